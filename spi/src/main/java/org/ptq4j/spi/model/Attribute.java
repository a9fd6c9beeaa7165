package org.ptq4j.spi.model;

import org.ptq4j.spi.tensor.Tensor;

import java.util.List;

/**
 * A node attribute. {@code value} is a Long (INT), Float (FLOAT), String (STRING), Tensor (TENSOR),
 * List of Long / Float / String (INTS / FLOATS / STRINGS); OPAQUE holds what this model does not
 * interpret (sub-graphs, sparse tensors, type protos): the host keeps and writes it back as it was.
 */
public record Attribute(String name, Kind kind, Object value) {
    public enum Kind { INT, FLOAT, STRING, TENSOR, INTS, FLOATS, STRINGS, OPAQUE }

    public static Attribute of(String name, long v) { return new Attribute(name, Kind.INT, v); }
    public static Attribute of(String name, float v) { return new Attribute(name, Kind.FLOAT, v); }
    public static Attribute of(String name, String v) { return new Attribute(name, Kind.STRING, v); }
    public static Attribute of(String name, Tensor v) { return new Attribute(name, Kind.TENSOR, v); }
    public static Attribute ints(String name, List<Long> v) { return new Attribute(name, Kind.INTS, List.copyOf(v)); }
    public static Attribute floats(String name, List<Float> v) { return new Attribute(name, Kind.FLOATS, List.copyOf(v)); }
    public static Attribute strings(String name, List<String> v) { return new Attribute(name, Kind.STRINGS, List.copyOf(v)); }

    public long asLong() { return (Long) value; }
    public float asFloat() { return (Float) value; }
    public String asString() { return (String) value; }
    public Tensor asTensor() { return (Tensor) value; }
    @SuppressWarnings("unchecked") public List<Long> asLongs() { return (List<Long>) value; }
    @SuppressWarnings("unchecked") public List<Float> asFloats() { return (List<Float>) value; }
}
