package org.ptq4j.host.config;

/**
 * One problem in a pipeline file: the dotted key path ({@code pipeline[0].params.preset}), the
 * 1-based line (0 when unknown) and what is wrong. Printed as {@code key.path (line N): message}.
 */
public record ConfigError(String path, int line, String message) {
    @Override public String toString() {
        return (path.isEmpty() ? "<root>" : path) + (line > 0 ? " (line " + line + ")" : "") + ": " + message;
    }
}
