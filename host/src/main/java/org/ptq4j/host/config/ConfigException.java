package org.ptq4j.host.config;

import org.ptq4j.spi.PtqException;

import java.nio.file.Path;
import java.util.List;

/** All the problems found in a pipeline file, reported together (exit code 2). */
public class ConfigException extends PtqException {
    private final transient List<ConfigError> errors;

    public ConfigException(Path file, List<ConfigError> errors) {
        this(file, sorted(errors), true);
    }

    private ConfigException(Path file, List<ConfigError> sorted, boolean unused) {
        super(format(file, sorted));
        this.errors = sorted;
    }

    public List<ConfigError> errors() { return errors; }

    /** In file order (errors without a line last), stable otherwise. */
    private static List<ConfigError> sorted(List<ConfigError> errors) {
        return errors.stream().sorted(java.util.Comparator.comparingInt(e -> e.line() == 0 ? Integer.MAX_VALUE : e.line())).toList();
    }

    private static String format(Path file, List<ConfigError> errors) {
        StringBuilder sb = new StringBuilder(file == null ? "parameters" : file.toString())
                .append(": ").append(errors.size()).append(errors.size() == 1 ? " error" : " errors");
        for (ConfigError e : errors) sb.append("\n  ").append(e);
        return sb.toString();
    }
}
