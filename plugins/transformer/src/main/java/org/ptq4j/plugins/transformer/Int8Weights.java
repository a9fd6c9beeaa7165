package org.ptq4j.plugins.transformer;

import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

/**
 * Symmetric INT8 weight quantization, the math in one place: {@code s = max|w| / 127},
 * {@code q = clamp(round(w / s), -127, 127)}, zero point 0. Per-column scales for a {@code [K, N]}
 * MatMul weight (one per output channel N), or one scale for the whole tensor.
 *
 * @param q         INT8 values, same shape as the weight
 * @param scale     FLOAT scales: {@code [N]} per column, or a scalar
 * @param zeroPoint INT8 zeros of the scale's shape
 */
record Int8Weights(Tensor q, Tensor scale, Tensor zeroPoint) {
    static final int QMAX = 127;

    /** Quantizes a rank-2 {@code [K, N]} weight with one scale per column (perColumn) or per tensor. */
    static Int8Weights of(Tensor w, boolean perColumn) {
        float[] v = w.floats();
        long[] shape = w.shape();
        int cols = perColumn ? (int) shape[shape.length - 1] : 1;
        float[] absMax = new float[cols];
        for (int i = 0; i < v.length; i++) {
            int c = perColumn ? i % cols : 0;
            absMax[c] = Math.max(absMax[c], Math.abs(v[i]));
        }
        float[] scale = new float[cols];
        for (int c = 0; c < cols; c++) scale[c] = absMax[c] > 0 ? absMax[c] / QMAX : 1f;
        byte[] q = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            float s = scale[perColumn ? i % cols : 0];
            q[i] = (byte) Math.max(-QMAX, Math.min(QMAX, Math.round(v[i] / s)));
        }
        long[] sShape = perColumn ? new long[]{cols} : new long[0];
        return new Int8Weights(Tensor.ofBytes(DType.INT8, shape, q), Tensor.ofFloats(sShape, scale),
                Tensor.ofBytes(DType.INT8, sShape, new byte[cols]));
    }
}
