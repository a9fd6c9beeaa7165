package org.ptq4j.host.config;

import org.ptq4j.spi.PtqException;

import java.nio.file.Path;
import java.util.List;

/** All the problems found in a pipeline file, reported together (exit code 2). */
public class ConfigException extends PtqException {
    private final transient List<ConfigError> errors;

    public ConfigException(Path file, List<ConfigError> errors) {
        super(format(file, errors));
        this.errors = List.copyOf(errors);
    }

    public List<ConfigError> errors() { return errors; }

    private static String format(Path file, List<ConfigError> errors) {
        StringBuilder sb = new StringBuilder(file == null ? "parameters" : file.toString())
                .append(": ").append(errors.size()).append(errors.size() == 1 ? " error" : " errors");
        for (ConfigError e : errors) sb.append("\n  ").append(e);
        return sb.toString();
    }
}
