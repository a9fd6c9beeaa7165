package org.ptq4j.spi.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * An immutable dense n-dimensional array: element type, shape and little-endian data.
 * <p>
 * The data may be a view (of a model file, a memory-mapped external-data file, or an engine
 * output): a tensor never copies it unless asked ({@link #floats()} and friends return copies).
 * Build tensors with the static factories; {@link #stack(List)} batches samples along a new axis 0.
 */
public final class Tensor {
    private final DType dtype;
    private final long[] shape;
    private final ByteBuffer data;

    private Tensor(DType dtype, long[] shape, ByteBuffer data) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long n = numElements(shape);
        if (dtype != DType.STRING && (long) data.remaining() != n * dtype.byteSize()) {
            throw new IllegalArgumentException("tensor of " + dtype + Arrays.toString(shape) + " needs "
                    + n * dtype.byteSize() + " bytes, got " + data.remaining());
        }
    }

    /** A tensor over {@code data} (little-endian, position..limit), not copied. */
    public static Tensor of(DType dtype, long[] shape, ByteBuffer data) {
        return new Tensor(dtype, shape, data.slice().order(ByteOrder.LITTLE_ENDIAN));
    }

    public static Tensor ofFloats(long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new Tensor(DType.FLOAT, shape, b);
    }

    public static Tensor ofInts(long[] shape, int[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return new Tensor(DType.INT32, shape, b);
    }

    public static Tensor ofLongs(long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new Tensor(DType.INT64, shape, b);
    }

    /** INT8 or UINT8 tensor from raw bytes (two's complement for INT8). */
    public static Tensor ofBytes(DType dtype, long[] shape, byte[] values) {
        if (dtype.byteSize() != 1) throw new IllegalArgumentException("ofBytes needs a 1-byte dtype, got " + dtype);
        return new Tensor(dtype, shape, ByteBuffer.wrap(values.clone()));
    }

    public static Tensor scalarFloat(float v) { return ofFloats(new long[0], new float[]{v}); }

    public DType dtype() { return dtype; }

    /** The shape (a copy). */
    public long[] shape() { return shape.clone(); }

    public int rank() { return shape.length; }

    public long dim(int axis) { return shape[axis < 0 ? shape.length + axis : axis]; }

    public long numElements() { return numElements(shape); }

    public static long numElements(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** The raw little-endian data as a read-only view positioned at 0. */
    public ByteBuffer bytes() { return data.duplicate().order(ByteOrder.LITTLE_ENDIAN); }

    /** A read-only float view; FLOAT tensors only. */
    public FloatBuffer floatView() {
        if (dtype != DType.FLOAT) throw new IllegalStateException("floatView on a " + dtype + " tensor");
        return bytes().asFloatBuffer();
    }

    /** All elements converted to float (a copy). Works for every numeric dtype, FLOAT16 and BFLOAT16 included. */
    public float[] floats() {
        int n = Math.toIntExact(numElements());
        float[] out = new float[n];
        ByteBuffer b = bytes();
        switch (dtype) {
            case FLOAT: b.asFloatBuffer().get(out); break;
            case DOUBLE: for (int i = 0; i < n; i++) out[i] = (float) b.getDouble(i * 8); break;
            case FLOAT16: for (int i = 0; i < n; i++) out[i] = Float16.toFloat(b.getShort(i * 2)); break;
            case BFLOAT16: for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16); break;
            case INT8: for (int i = 0; i < n; i++) out[i] = b.get(i); break;
            case UINT8: case BOOL: for (int i = 0; i < n; i++) out[i] = b.get(i) & 0xff; break;
            case INT16: for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2); break;
            case UINT16: for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2) & 0xffff; break;
            case INT32: for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); break;
            case UINT32: for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4) & 0xffffffffL; break;
            case INT64: case UINT64: for (int i = 0; i < n; i++) out[i] = b.getLong(i * 8); break;
            default: throw new IllegalStateException("cannot convert " + dtype + " to float");
        }
        return out;
    }

    /** All elements converted to long (a copy); integer and bool dtypes. */
    public long[] longs() {
        int n = Math.toIntExact(numElements());
        long[] out = new long[n];
        ByteBuffer b = bytes();
        switch (dtype) {
            case INT8: for (int i = 0; i < n; i++) out[i] = b.get(i); break;
            case UINT8: case BOOL: for (int i = 0; i < n; i++) out[i] = b.get(i) & 0xff; break;
            case INT16: for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2); break;
            case UINT16: for (int i = 0; i < n; i++) out[i] = b.getShort(i * 2) & 0xffff; break;
            case INT32: for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4); break;
            case UINT32: for (int i = 0; i < n; i++) out[i] = b.getInt(i * 4) & 0xffffffffL; break;
            case INT64: case UINT64: b.asLongBuffer().get(out); break;
            default: throw new IllegalStateException("cannot convert " + dtype + " to long");
        }
        return out;
    }

    /** A tensor of the same data in another dtype (numeric conversion, a copy). */
    public Tensor to(DType target) {
        if (target == dtype) return this;
        int n = Math.toIntExact(numElements());
        ByteBuffer out = ByteBuffer.allocate(n * target.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        if (target == DType.FLOAT) { out.asFloatBuffer().put(floats()); return new Tensor(target, shape, out); }
        if (target == DType.FLOAT16) { float[] f = floats(); for (int i = 0; i < n; i++) out.putShort(i * 2, Float16.fromFloat(f[i])); return new Tensor(target, shape, out); }
        if (target == DType.DOUBLE) { float[] f = floats(); for (int i = 0; i < n; i++) out.putDouble(i * 8, f[i]); return new Tensor(target, shape, out); }
        long[] v = dtype.isFloatingPoint() ? toLongsRounded(floats()) : longs();
        for (int i = 0; i < n; i++) {
            switch (target) {
                case INT8: case UINT8: case BOOL: out.put(i, (byte) v[i]); break;
                case INT16: case UINT16: out.putShort(i * 2, (short) v[i]); break;
                case INT32: case UINT32: out.putInt(i * 4, (int) v[i]); break;
                case INT64: case UINT64: out.putLong(i * 8, v[i]); break;
                default: throw new IllegalStateException("cannot convert to " + target);
            }
        }
        return new Tensor(target, shape, out);
    }

    private static long[] toLongsRounded(float[] f) {
        long[] v = new long[f.length];
        for (int i = 0; i < f.length; i++) v[i] = Math.round(f[i]);
        return v;
    }

    /** The same data with another shape of equal element count. */
    public Tensor reshape(long... newShape) {
        if (numElements(newShape) != numElements()) throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        return new Tensor(dtype, newShape, data);
    }

    /** Rows [from, to) along axis 0, as a view. */
    public Tensor slice0(long from, long to) {
        long row = numElements() / shape[0] * dtype.byteSize();
        ByteBuffer b = bytes();
        b.position(Math.toIntExact(from * row)).limit(Math.toIntExact(to * row));
        long[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(dtype, s, b.slice());
    }

    /** Stacks equally shaped tensors along a new axis 0 (batching). */
    public static Tensor stack(List<Tensor> items) {
        Tensor first = items.get(0);
        long[] s = new long[first.rank() + 1];
        s[0] = items.size();
        System.arraycopy(first.shape, 0, s, 1, first.rank());
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(numElements(s) * first.dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        for (Tensor t : items) {
            if (t.dtype != first.dtype || !Arrays.equals(t.shape, first.shape))
                throw new IllegalArgumentException("cannot stack " + t + " with " + first);
            out.put(t.bytes());
        }
        out.flip();
        return new Tensor(first.dtype, s, out);
    }

    /** Concatenates along axis 0. */
    public static Tensor concat0(List<Tensor> items) {
        Tensor first = items.get(0);
        long rows = 0;
        for (Tensor t : items) rows += t.shape[0];
        long[] s = first.shape.clone();
        s[0] = rows;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(numElements(s) * first.dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        for (Tensor t : items) out.put(t.bytes());
        out.flip();
        return new Tensor(first.dtype, s, out);
    }

    @Override
    public String toString() { return "Tensor(" + dtype + Arrays.toString(shape) + ")"; }
}
