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
 * @param embeds      for a MAP that holds another algorithm's parameters: which algorithm (null otherwise);
 *                    the host validates the map against that algorithm's parameters (see {@link #paramsOf})
 */
public record ParamSpec(String name, ParamType type, Object defaultValue, boolean required, String description,
                        List<String> choices, Double min, Double max, List<ParamSpec> children, Embedded embeds) {

    public ParamSpec {
        choices = choices == null ? List.of() : List.copyOf(choices);
        children = children == null ? List.of() : List.copyOf(children);
        if (embeds != null && type != ParamType.MAP) throw new IllegalArgumentException(name + ": only a MAP parameter can embed an algorithm's parameters");
    }

    /** A parameter that embeds nothing (the form before {@code embeds} existed). */
    public ParamSpec(String name, ParamType type, Object defaultValue, boolean required, String description,
                     List<String> choices, Double min, Double max, List<ParamSpec> children) {
        this(name, type, defaultValue, required, description, choices, min, max, children, null);
    }

    /**
     * Which algorithm's parameters a MAP parameter holds: a fixed algorithm ({@code algorithm}), or
     * the algorithm named by the value of a sibling parameter ({@code algorithmKey}, e.g.
     * {@code base_algorithm}; its default when absent). Exactly one of the two is set.
     */
    public record Embedded(String algorithm, String algorithmKey) {
        public Embedded {
            if ((algorithm == null) == (algorithmKey == null)) throw new IllegalArgumentException("set exactly one of algorithm, algorithmKey");
        }
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

    /** A free-form map (e.g. input name to file). For another algorithm's parameters use {@link #paramsOf}. */
    public static ParamSpec anyMap(String name, String description) {
        return new ParamSpec(name, ParamType.MAP, null, false, description, null, null, null, null);
    }

    /**
     * A map with the parameters of the algorithm named by the sibling parameter {@code algorithmKey}
     * (a composite's {@code base_params} next to {@code base_algorithm}). {@code ptq validate} checks
     * the map against that algorithm's own parameters, so a typo inside fails with its key path and
     * line; the step receives the map as written (plain values, no defaults filled in) and hands it
     * to {@link org.ptq4j.spi.PipelineContext#params}.
     */
    public static ParamSpec paramsOf(String name, String algorithmKey, String description) {
        return new ParamSpec(name, ParamType.MAP, null, false, description, null, null, null, null, new Embedded(null, algorithmKey));
    }

    /** Like {@link #paramsOf} for a fixed algorithm, e.g. the bias correction a composite runs. */
    public static ParamSpec paramsOfAlgorithm(String name, String algorithm, String description) {
        return new ParamSpec(name, ParamType.MAP, null, false, description, null, null, null, null, new Embedded(algorithm, null));
    }

    public ParamSpec withRange(Double lo, Double hi) {
        return new ParamSpec(name, type, defaultValue, required, description, choices, lo, hi, children, embeds);
    }

    public ParamSpec asRequired() {
        return new ParamSpec(name, type, defaultValue, true, description, choices, min, max, children, embeds);
    }
}
