package org.ptq4j.host.config;

import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.ParamType;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks YAML values against {@link ParamSpec}s: unknown keys (with the nearest valid name),
 * required keys, types, ranges, ENUM choices, nested MAP children, PATHs (resolved against the
 * pipeline's folder; input paths must exist). Produces the values with defaults filled in; every
 * problem is appended to the error list, nothing is thrown.
 * <p>
 * A PATH whose name starts with {@code output}, {@code save}, {@code dump} or {@code work} is
 * something the step writes, so it need not exist yet.
 */
public final class ParamValidator {
    private final SafeYaml yaml;
    private final Path baseDir;
    private final List<ConfigError> errors;
    private java.util.function.Function<String, java.util.Optional<List<ParamSpec>>> algorithms;
    private java.util.Collection<String> installed = List.of();

    public ParamValidator(SafeYaml yaml, Path baseDir, List<ConfigError> errors) {
        this.yaml = yaml;
        this.baseDir = baseDir;
        this.errors = errors;
    }

    /**
     * Lets the validator check parameters that embed another algorithm's parameters
     * ({@link ParamSpec#embeds()}): {@code lookup} gives an installed algorithm's parameters by name.
     * Without it, such maps are taken as written.
     */
    public ParamValidator algorithms(java.util.function.Function<String, java.util.Optional<List<ParamSpec>>> lookup, java.util.Collection<String> names) {
        this.algorithms = lookup;
        this.installed = names;
        return this;
    }

    /**
     * Validates a mapping node (null: no values) against {@code specs}; keys in {@code skip}
     * (e.g. {@code type}) are ignored.
     */
    public Map<String, Object> validate(MappingNode node, List<ParamSpec> specs, String path, int line, Set<String> skip) {
        Map<String, ParamSpec> byName = new LinkedHashMap<>();
        for (ParamSpec s : specs) byName.put(s.name(), s);
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, NodeTuple> given = node == null ? Map.of() : yaml.entries(node, path, errors);
        Set<String> valid = new java.util.TreeSet<>(byName.keySet());
        valid.addAll(skip);
        for (var e : given.entrySet()) {
            if (valid.contains(e.getKey())) continue;
            errors.add(new ConfigError(SafeYaml.join(path, e.getKey()), SafeYaml.line(e.getValue().getKeyNode()),
                    "unknown key '" + e.getKey() + "'" + Names.hint(e.getKey(), valid, "valid keys")));
        }
        for (ParamSpec s : specs) {
            NodeTuple t = given.get(s.name());
            String p = SafeYaml.join(path, s.name());
            Node v = t == null ? null : t.getValueNode();
            if (v instanceof ScalarNode sn && sn.getValue().isEmpty() && sn.isPlain()) v = null;    // `key:` / `key: ~`
            if (v == null || (v instanceof ScalarNode sn2 && sn2.getTag().getValue().endsWith(":null"))) {
                if (s.required() && s.defaultValue() == null) {
                    errors.add(new ConfigError(p, t != null ? SafeYaml.line(t.getKeyNode()) : line,
                            "missing required key: " + describe(s) + (s.description() == null ? "" : " (" + s.description() + ")")));
                } else if (s.type() == ParamType.MAP && !s.children().isEmpty()) {
                    out.put(s.name(), validate(null, s.children(), p, line, Set.of()));
                } else if (s.defaultValue() != null) {
                    out.put(s.name(), s.type() == ParamType.PATH ? baseDir.resolve(s.defaultValue().toString()).normalize() : s.defaultValue());
                }
                continue;
            }
            Object value = value(v, s, p);
            if (value != null) out.put(s.name(), value);
        }
        if (algorithms != null) for (ParamSpec s : specs) if (s.embeds() != null) embedded(s, given, out, path, line);
        return out;
    }

    /**
     * Checks a map of another algorithm's parameters against that algorithm's declarations (errors
     * carry the nested key path and line); the map itself stays as written.
     */
    private void embedded(ParamSpec s, Map<String, NodeTuple> given, Map<String, Object> out, String path, int line) {
        String name;
        if (s.embeds().algorithm() != null) name = s.embeds().algorithm();
        else {
            Object v = out.get(s.embeds().algorithmKey());
            if (v == null) return;                           // missing or invalid: reported with that key
            name = v.toString();
        }
        var specs = algorithms.apply(name);
        if (specs.isEmpty()) {
            String key = s.embeds().algorithm() != null ? s.name() : s.embeds().algorithmKey();
            NodeTuple at = given.get(key);
            errors.add(new ConfigError(SafeYaml.join(path, key), at != null ? SafeYaml.line(at.getValueNode()) : line,
                    "unknown algorithm '" + name + "' (for " + s.name() + ")" + Names.nearest(name, installed).map(c -> "; did you mean '" + c + "'?").orElse("")
                            + "; installed: " + String.join(", ", new java.util.TreeSet<>(installed))));
            return;
        }
        NodeTuple t = given.get(s.name());
        if (t == null || !(t.getValueNode() instanceof MappingNode m)) return;   // absent (the algorithm's defaults) or not a map (reported)
        validate(m, specs.get(), SafeYaml.join(path, s.name()), SafeYaml.line(m), Set.of());
    }

    /**
     * Validates plain values (a composite's sub-step parameters, the CLI's simplified mode) exactly
     * like YAML ones: the map is written as YAML and checked; {@code what} prefixes key paths.
     */
    public static org.ptq4j.spi.param.Params bind(List<ParamSpec> specs, Map<String, Object> values, Path baseDir, String what) {
        return bind(specs, values, baseDir, what, null, List.of());
    }

    /** As {@link #bind(List, Map, Path, String)}, also checking embedded algorithm parameters ({@link #algorithms}). */
    public static org.ptq4j.spi.param.Params bind(List<ParamSpec> specs, Map<String, Object> values, Path baseDir, String what,
                                                 java.util.function.Function<String, java.util.Optional<List<ParamSpec>>> algorithms,
                                                 java.util.Collection<String> installed) {
        List<ConfigError> errors = new ArrayList<>();
        String text = new org.yaml.snakeyaml.Yaml().dump(plainCopy(values));
        Node n = SafeYaml.parse(new java.io.StringReader(text), errors);
        Map<String, Object> out = Map.of();
        if (errors.isEmpty()) {
            ParamValidator v = new ParamValidator(new SafeYaml(k -> null), baseDir, errors);
            if (algorithms != null) v.algorithms(algorithms, installed);
            out = v.validate(n instanceof MappingNode m ? m : null, specs, what, 0, Set.of());
        }
        // lines of the generated YAML mean nothing to the user: drop them
        if (!errors.isEmpty()) throw new ConfigException(null, errors.stream().map(e -> new ConfigError(e.path(), 0, e.message())).toList());
        return new org.ptq4j.spi.param.Params(out);
    }

    private static Object plainCopy(Object o) {
        if (o instanceof org.ptq4j.spi.param.Params p) o = p.asMap();
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> r = new LinkedHashMap<>();
            m.forEach((k, v) -> { if (v != null) r.put(String.valueOf(k), plainCopy(v)); });
            return r;
        }
        if (o instanceof List<?> l) return l.stream().map(ParamValidator::plainCopy).toList();
        if (o instanceof Path p) return p.toString();
        if (o instanceof Enum<?> e) return e.name();
        return o;
    }

    /** One value against its spec, or null (after recording an error). */
    Object value(Node n, ParamSpec s, String p) {
        int line = SafeYaml.line(n);
        switch (s.type()) {
            case MAP: {
                if (!(n instanceof MappingNode m)) return fail(p, line, "expected a map of key: value, got " + kind(n));
                if (s.children().isEmpty()) return yaml.plain(m, p, errors);
                return validate(m, s.children(), p, line, Set.of());
            }
            case STRING_LIST: case FLOAT_LIST: {
                List<Node> items;
                if (n instanceof SequenceNode q) items = q.getValue();
                else if (n instanceof ScalarNode) items = List.of(n);                  // a single item may be written alone
                else return fail(p, line, "expected a list, got " + kind(n));
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < items.size(); i++) {
                    ParamSpec item = new ParamSpec(s.name(), s.type() == ParamType.FLOAT_LIST ? ParamType.FLOAT : ParamType.STRING,
                            null, false, null, null, s.min(), s.max(), null);
                    Object v = value(items.get(i), item, p + "[" + i + "]");
                    if (v == null) return null;
                    if (!s.choices().isEmpty() && !s.choices().contains(v.toString()))
                        return fail(p + "[" + i + "]", SafeYaml.line(items.get(i)), "'" + v + "' is not one of " + s.choices() + Names.hint(v.toString(), s.choices(), "valid"));
                    out.add(v);
                }
                return out;
            }
            case ANY:
                return yaml.plain(n, p, errors);
            case PATHS: {
                if (!(n instanceof MappingNode m)) break;
                Map<String, Object> out = new LinkedHashMap<>();
                ParamSpec one = new ParamSpec(s.name(), ParamType.PATH, null, false, null, null, null, null, null);
                boolean ok = true;
                for (var e : yaml.entries(m, p, errors).entrySet()) {
                    Object v = value(e.getValue().getValueNode(), one, SafeYaml.join(p, e.getKey()));
                    if (v == null) ok = false; else out.put(e.getKey(), v);
                }
                return ok ? out : null;
            }
            default:
                break;
        }
        if (!(n instanceof ScalarNode sn)) return fail(p, line, "expected " + describe(s) + ", got " + kind(n));
        int before = errors.size();
        Object v = yaml.scalar(sn, p, errors);
        if (errors.size() > before) return null;          // e.g. an unset ${VAR}: already reported
        switch (s.type()) {
            case INT: {
                if (!(v instanceof Integer || v instanceof Long || v instanceof BigInteger))
                    return fail(p, line, "expected an integer, got " + show(v));
                long l;
                try { l = ((Number) v).longValue(); if (v instanceof BigInteger b) l = b.longValueExact(); }
                catch (ArithmeticException e) { return fail(p, line, "integer " + v + " is too large"); }
                if (!inRange(l, s, p, line)) return null;
                return l == (int) l ? (Object) (int) l : (Object) l;
            }
            case FLOAT: {
                if (!(v instanceof Number num)) return fail(p, line, "expected a number, got " + show(v));
                double d = num.doubleValue();
                if (Double.isNaN(d)) return fail(p, line, "expected a number, got NaN");
                return inRange(d, s, p, line) ? d : null;
            }
            case BOOL:
                if (!(v instanceof Boolean)) return fail(p, line, "expected true or false, got " + show(v));
                return v;
            case ENUM: {
                String str = String.valueOf(v);
                if (s.choices().contains(str)) return str;
                return fail(p, line, "'" + str + "' is not one of " + String.join(", ", s.choices()) + Names.nearest(str, s.choices()).map(c -> "; did you mean '" + c + "'?").orElse(""));
            }
            case PATH: case PATHS: {
                if (!(v instanceof String str) || str.isBlank()) return fail(p, line, "expected a file path, got " + show(v));
                if (isOutput(s.name()) && (str.endsWith("/") || str.endsWith(java.io.File.separator)))
                    return fail(p, line, "'" + str + "' names a folder (it ends with '/'); expected a file name such as model_int8.onnx");
                Path resolved;
                try {
                    resolved = baseDir.resolve(str).toAbsolutePath().normalize();
                } catch (java.nio.file.InvalidPathException e) {
                    return fail(p, line, "not a valid file path: " + e.getMessage());
                }
                if (!isOutput(s.name()) && !Files.exists(resolved))
                    return fail(p, line, "file not found: " + resolved + (str.equals(resolved.toString()) ? "" : " ('" + str + "' relative to " + baseDir + ")"));
                // a FIFO or device would block or never end
                if (!isOutput(s.name()) && !Files.isRegularFile(resolved) && !Files.isDirectory(resolved))
                    return fail(p, line, resolved + " is not a regular file or folder");
                return resolved;
            }
            default: // STRING
                if (v == null) return fail(p, line, "expected a string");
                return String.valueOf(v);
        }
    }

    static boolean isOutput(String name) {
        return name.startsWith("output") || name.startsWith("save") || name.startsWith("dump") || name.startsWith("work");
    }

    private boolean inRange(double d, ParamSpec s, String p, int line) {
        if ((s.min() != null && d < s.min()) || (s.max() != null && d > s.max())) {
            String lo = s.min() == null ? "-inf" : fmt(s.min()), hi = s.max() == null ? "inf" : fmt(s.max());
            fail(p, line, fmt(d) + " is out of range [" + lo + ", " + hi + "]");
            return false;
        }
        return true;
    }

    private Object fail(String path, int line, String message) {
        errors.add(new ConfigError(path, line, message));
        return null;
    }

    static String fmt(double d) { return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d); }

    static String show(Object v) {
        if (v == null) return "nothing";
        if (v instanceof String s) return "the string '" + s + "'";
        return (v instanceof Boolean ? "boolean " : v instanceof Number ? "number " : "") + v;
    }

    static String kind(Node n) {
        return n instanceof MappingNode ? "a map" : n instanceof SequenceNode ? "a list" : "'" + ((ScalarNode) n).getValue() + "'";
    }

    /** "an integer in [1, 10000]", "one of a, b", ... for messages and {@code ptq plugins}. */
    public static String describe(ParamSpec s) {
        String range = s.min() == null && s.max() == null ? ""
                : " in [" + (s.min() == null ? "-inf" : fmt(s.min())) + ", " + (s.max() == null ? "inf" : fmt(s.max())) + "]";
        return switch (s.type()) {
            case INT -> "an integer" + range;
            case FLOAT -> "a number" + range;
            case BOOL -> "true or false";
            case STRING -> "a string";
            case ENUM -> "one of " + String.join(", ", s.choices());
            case PATH -> "a file path";
            case PATHS -> "a file path, or a map of name: file path";
            case STRING_LIST -> "a list of strings" + (s.choices().isEmpty() ? "" : " from " + s.choices());
            case FLOAT_LIST -> "a list of numbers";
            case MAP -> "a map";
            case ANY -> "a value";
        };
    }
}
