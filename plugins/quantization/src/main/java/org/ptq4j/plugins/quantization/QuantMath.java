package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.quant.Int16Pairs;
import org.ptq4j.spi.quant.WeightGrid;
import org.ptq4j.spi.stats.RangeSpec;

/**
 * All quantization arithmetic in one place. Rounding is half-to-even ({@link Math#rint}), as
 * ONNX {@code QuantizeLinear} does.
 * <ul>
 * <li><b>Activations</b> are stored as <b>uint8</b> (ONNX Runtime's integer kernels are fastest with
 * uint8 activations; int8 activations are converted back to uint8 internally and block fusion
 * of tensors with several consumers). The range is first widened to contain 0.
 * <ul>
 *   <li>asymmetric: {@code scale = (hi - lo) / (2^b - 1)}, {@code zp = rint(-lo / scale)};</li>
 *   <li>symmetric, non-negative tensor (e.g. after Relu): {@code zp = 0},
 *       {@code scale = hi / (2^b - 1)} (all levels on the used half);</li>
 *   <li>symmetric, signed tensor: {@code zp = 2^(b-1)} (128), {@code scale = max(|lo|, hi) / (2^(b-1) - 1)},
 *       the uint8 image of an int8 symmetric grid.</li>
 * </ul></li>
 * <li><b>Weights</b> are stored as <b>int8</b>, per output channel or per tensor.
 *   Symmetric: {@code zp = 0}, {@code scale = max|w| / (2^(b-1) - 1)}, values in
 *   [-(2^(b-1)-1), 2^(b-1)-1] (7 bits: [-63, 63], inside [-64, 63]).
 *   Asymmetric: levels [-2^(b-1), 2^(b-1)-1] with a free zero point.</li>
 * <li><b>Bias</b> of Conv / Gemm: int32 {@code rint(b / (s_x * s_w[c]))}, zero point 0.</li>
 * </ul>
 */
final class QuantMath {
    private QuantMath() {}

    /** Scale and zero point of a per-tensor (activation) quantization. */
    record QParams(float scale, int zeroPoint) {}

    /** Quantized weights: int8 values (two's complement bytes), per-channel scales and zero points. */
    record QWeights(byte[] values, float[] scales, int[] zeroPoints) {}

    /** uint8 parameters of an activation whose measured range is [lo, hi]. */
    static QParams activation(float lo, float hi, boolean symmetric, int bits) {
        lo = Math.min(lo, 0f);
        hi = Math.max(hi, 0f);
        int levels = (1 << bits) - 1;
        if (symmetric && lo == 0f) return new QParams(WeightGrid.safe(hi / levels), 0);
        if (symmetric) {
            int half = (1 << (bits - 1)) - 1;
            return new QParams(WeightGrid.safe(Math.max(-lo, hi) / half), half + 1);
        }
        float scale = WeightGrid.safe((hi - lo) / levels);
        int zp = (int) Math.max(0, Math.min(levels, Math.rint(-lo / scale)));
        return new QParams(scale, zp);
    }


    /** Weights: {@link WeightGrid} (in the spi, so other algorithms use the same grid). */
    static QWeights weights(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range) {
        return weights(w, shape, axis, symmetric, bits, range, null);
    }

    static QWeights weights(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range, Int16Pairs pairs) {
        return weights(w, shape, axis, symmetric, bits, range, pairs, false);
    }

    static QWeights weights(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range, Int16Pairs pairs, boolean mse) {
        WeightGrid.Result r = WeightGrid.quantize(w, shape, axis, symmetric, bits, range, pairs, mse);
        return new QWeights(r.values(), r.scales(), r.zeroPoints());
    }

    /** int32 bias {@code rint(b[c] / (sx * sw[c]))}; returns the values and writes the scales to {@code scalesOut}. */
    static int[] bias(float[] b, float sx, float[] sw, float[] scalesOut) {
        int[] q = new int[b.length];
        for (int c = 0; c < b.length; c++) {
            float s = sx * sw[sw.length == 1 ? 0 : c];
            scalesOut[c] = s;
            double v = Math.rint(b[c] / s);
            q[c] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v));
        }
        return q;
    }
}
