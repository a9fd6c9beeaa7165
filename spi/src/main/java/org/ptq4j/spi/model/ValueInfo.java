package org.ptq4j.spi.model;

import org.ptq4j.spi.tensor.DType;

import java.util.List;

/**
 * A named tensor's declared type: element type and shape ({@code shape} is null when the model
 * declares no shape; {@code dtype} is null when unknown).
 */
public record ValueInfo(String name, DType dtype, List<Dim> shape) {
    public ValueInfo {
        shape = shape == null ? null : List.copyOf(shape);
    }

    public static ValueInfo nameOnly(String name) { return new ValueInfo(name, null, null); }

    /** The fixed shape with every symbolic or unknown dimension replaced by {@code fill}. */
    public long[] concreteShape(long fill) {
        long[] s = new long[shape.size()];
        for (int i = 0; i < s.length; i++) s[i] = shape.get(i).isFixed() ? shape.get(i).value() : fill;
        return s;
    }

    @Override public String toString() { return name + ":" + dtype + (shape == null ? "" : shape.toString()); }
}
