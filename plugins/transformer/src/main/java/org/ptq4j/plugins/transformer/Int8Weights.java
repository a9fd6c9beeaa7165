package org.ptq4j.plugins.transformer;

import org.ptq4j.spi.quant.Int16Pairs;
import org.ptq4j.spi.quant.WeightGrid;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

/**
 * Symmetric INT8 weight quantization on the spi's {@link WeightGrid}: {@code s = max|w| / 127},
 * {@code q = clamp(rint(w / s), -127, 127)}, zero point 0. Per-column scales for a {@code [K, N]}
 * MatMul weight (one per output channel N), or one scale for the whole tensor.
 *
 * @param q         INT8 values, same shape as the weight
 * @param scale     FLOAT scales: {@code [N]} per column, or a scalar
 * @param zeroPoint INT8 zeros of the scale's shape
 */
record Int8Weights(Tensor q, Tensor scale, Tensor zeroPoint) {
    /**
     * Quantizes a rank-2 {@code [K, N]} weight with one scale per column (perColumn) or per tensor.
     * With {@code pairwise}, on {@link WeightGrid}'s saturation-safe grid for the int16 pair sums of
     * x86 CPUs without VNNI (pairs along K, as MLAS's u8s8 kernels add them).
     */
    static Int8Weights of(Tensor w, boolean perColumn, boolean pairwise) {
        long[] shape = w.shape();
        int axis = perColumn ? shape.length - 1 : -1;
        WeightGrid.Result r = WeightGrid.quantize(w.floats(), shape, axis, true, 8, WeightGrid.ABS_MAX,
                pairwise ? Int16Pairs.forMatMulWeight(shape, axis) : null);
        long[] sShape = perColumn ? new long[]{r.scales().length} : new long[0];
        return new Int8Weights(Tensor.ofBytes(DType.INT8, shape, r.values()), Tensor.ofFloats(sShape, r.scales()),
                Tensor.ofBytes(DType.INT8, sShape, new byte[r.scales().length]));
    }
}
