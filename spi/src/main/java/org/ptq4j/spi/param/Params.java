package org.ptq4j.spi.param;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Validated parameter values, defaults filled in: what the host hands to a plugin. Nested maps
 * come back as {@link Params} via {@link #map(String)}. PATH values are already absolute.
 */
public final class Params {
    private final Map<String, Object> values;

    public Params(Map<String, ?> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public static Params empty() { return new Params(Map.of()); }

    public boolean has(String key) { return values.get(key) != null; }

    public Object raw(String key) { return values.get(key); }

    public Map<String, Object> asMap() { return values; }

    public int getInt(String key) { return ((Number) require(key)).intValue(); }
    public long getLong(String key) { return ((Number) require(key)).longValue(); }
    public double getDouble(String key) { return ((Number) require(key)).doubleValue(); }
    public boolean getBool(String key) { return (Boolean) require(key); }
    public String getString(String key) { return String.valueOf(require(key)); }

    public Optional<String> string(String key) { return Optional.ofNullable(values.get(key)).map(String::valueOf); }
    public Optional<Path> path(String key) { return Optional.ofNullable(values.get(key)).map(v -> v instanceof Path p ? p : Path.of(v.toString())); }
    public Optional<Integer> integer(String key) { return Optional.ofNullable((Number) values.get(key)).map(Number::intValue); }
    public Optional<Double> number(String key) { return Optional.ofNullable((Number) values.get(key)).map(Number::doubleValue); }

    @SuppressWarnings("unchecked")
    public List<String> getStrings(String key) {
        Object v = values.get(key);
        return v == null ? List.of() : ((List<Object>) v).stream().map(String::valueOf).toList();
    }

    @SuppressWarnings("unchecked")
    public List<Double> getDoubles(String key) {
        Object v = values.get(key);
        return v == null ? List.of() : ((List<Object>) v).stream().map(o -> ((Number) o).doubleValue()).toList();
    }

    /** A nested map parameter (empty when absent). */
    @SuppressWarnings("unchecked")
    public Params map(String key) {
        Object v = values.get(key);
        if (v == null) return empty();
        if (v instanceof Params p) return p;
        return new Params((Map<String, Object>) v);
    }

    /** A copy with {@code key} set to {@code value}. */
    public Params with(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(values);
        m.put(key, value);
        return new Params(m);
    }

    private Object require(String key) {
        Object v = values.get(key);
        if (v == null) throw new IllegalArgumentException("parameter '" + key + "' has no value");
        return v;
    }

    @Override public String toString() { return values.toString(); }
}
