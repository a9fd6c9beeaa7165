package org.ptq4j.spi.param;

import java.util.List;

/**
 * Declares one parameter of an algorithm, dataset or metric: its name (snake_case, as written in
 * YAML), type, default, constraints and a one-line description. The host validates a pipeline
 * against these declarations before anything runs and lists them in {@code ptq plugins}.
 *
 * @param name        key in YAML
 * @param type        value type
 * @param defaultValue value when absent (null: no default; then {@code required} decides)
 * @param required    whether a value must be given
 * @param description one line for {@code ptq plugins} and error messages
 * @param choices     allowed values of an ENUM (or allowed items of a STRING_LIST when non-empty)
 * @param min         inclusive lower bound of INT / FLOAT, or null
 * @param max         inclusive upper bound of INT / FLOAT, or null
 * @param children    the keys of a MAP parameter (empty: a free-form map)
 */
public record ParamSpec(String name, ParamType type, Object defaultValue, boolean required, String description,
                        List<String> choices, Double min, Double max, List<ParamSpec> children) {

    public ParamSpec {
        choices = choices == null ? List.of() : List.copyOf(choices);
        children = children == null ? List.of() : List.copyOf(children);
    }

    public static ParamSpec integer(String name, Integer dflt, String description) {
        return new ParamSpec(name, ParamType.INT, dflt, false, description, null, null, null, null);
    }

    public static ParamSpec number(String name, Double dflt, String description) {
        return new ParamSpec(name, ParamType.FLOAT, dflt, false, description, null, null, null, null);
    }

    public static ParamSpec bool(String name, Boolean dflt, String description) {
        return new ParamSpec(name, ParamType.BOOL, dflt, false, description, null, null, null, null);
    }

    public static ParamSpec string(String name, String dflt, String description) {
        return new ParamSpec(name, ParamType.STRING, dflt, false, description, null, null, null, null);
    }

    /** A file or folder path; relative paths resolve against the pipeline file's folder. */
    public static ParamSpec path(String name, String description) {
        return new ParamSpec(name, ParamType.PATH, null, false, description, null, null, null, null);
    }

    /** A file path, or a map of names to file paths (e.g. model input -> file). */
    public static ParamSpec paths(String name, String description) {
        return new ParamSpec(name, ParamType.PATHS, null, false, description, null, null, null, null);
    }

    public static ParamSpec choice(String name, String dflt, String description, String... choices) {
        return new ParamSpec(name, ParamType.ENUM, dflt, false, description, List.of(choices), null, null, null);
    }

    public static ParamSpec strings(String name, String description) {
        return new ParamSpec(name, ParamType.STRING_LIST, List.of(), false, description, null, null, null, null);
    }

    public static ParamSpec numbers(String name, List<Double> dflt, String description) {
        return new ParamSpec(name, ParamType.FLOAT_LIST, dflt, false, description, null, null, null, null);
    }

    /** A nested map with declared keys (validated recursively). */
    public static ParamSpec map(String name, String description, ParamSpec... children) {
        return new ParamSpec(name, ParamType.MAP, null, false, description, null, null, null, List.of(children));
    }

    /** A free-form map (e.g. input name to file, or another algorithm's parameters). */
    public static ParamSpec anyMap(String name, String description) {
        return new ParamSpec(name, ParamType.MAP, null, false, description, null, null, null, null);
    }

    public ParamSpec withRange(Double lo, Double hi) {
        return new ParamSpec(name, type, defaultValue, required, description, choices, lo, hi, children);
    }

    public ParamSpec asRequired() {
        return new ParamSpec(name, type, defaultValue, true, description, choices, min, max, children);
    }
}
