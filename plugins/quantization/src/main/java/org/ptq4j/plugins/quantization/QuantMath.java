package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.RangeSpec.Reduce;
import org.ptq4j.spi.stats.Select;

import java.util.Arrays;

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
        if (symmetric && lo == 0f) return new QParams(safe(hi / levels), 0);
        if (symmetric) {
            int half = (1 << (bits - 1)) - 1;
            return new QParams(safe(Math.max(-lo, hi) / half), half + 1);
        }
        float scale = safe((hi - lo) / levels);
        int zp = (int) Math.max(0, Math.min(levels, Math.rint(-lo / scale)));
        return new QParams(scale, zp);
    }

    /** A usable scale: zero ranges (constant-zero tensors or channels) get scale 1. */
    private static float safe(float scale) {
        return scale > 1e-30f && Float.isFinite(scale) ? scale : 1f;
    }

    /**
     * Quantizes a weight tensor along {@code axis} (-1: per tensor), the range of each channel measured
     * by {@code range}'s reductions (min / max / abs_max / quantile with its outlier_prob).
     */
    static QWeights weights(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range) {
        return weights(w, shape, axis, symmetric, bits, range, null);
    }

    /**
     * As {@link #weights(float[], long[], int, boolean, int, RangeSpec)}; with {@code pairs} (symmetric weights only),
     * every channel whose grid would put a same-sign pair above {@link Int16Pairs#PAIR_LIMIT} gets the
     * saturation-safe grid of {@link #safeChannel}.
     */
    static QWeights weights(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range, Int16Pairs pairs) {
        int channels = axis < 0 ? 1 : (int) shape[axis];
        long inner = 1;
        for (int i = axis + 1; i < shape.length && axis >= 0; i++) inner *= shape[i];
        if (axis < 0) inner = w.length;
        int outer = (int) (w.length / (channels * inner));
        float[][] values = new float[channels][];
        for (int c = 0; c < channels; c++) {
            float[] v = new float[(int) (outer * inner)];
            int k = 0;
            for (int o = 0; o < outer; o++) {
                int base = (int) ((o * (long) channels + c) * inner);
                for (int i = 0; i < inner; i++) v[k++] = w[base + i];
            }
            values[c] = v;
        }
        int qmax = (1 << (bits - 1)) - 1;
        int qmin = symmetric ? -qmax : -qmax - 1;
        float[] scales = new float[channels];
        int[] zps = new int[channels];
        for (int c = 0; c < channels; c++) {
            float[] lh = channelRange(values[c], range);
            float lo = Math.min(lh[0], 0f), hi = Math.max(lh[1], 0f);
            if (symmetric) {
                scales[c] = safe(Math.max(-lo, hi) / qmax);
            } else {
                scales[c] = safe((hi - lo) / (qmax - qmin));
                zps[c] = (int) Math.max(qmin, Math.min(qmax, qmin - Math.rint(lo / scales[c])));
            }
        }
        byte[] q = new byte[w.length];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++) {
                int base = (int) ((o * (long) channels + c) * inner);
                for (int i = 0; i < inner; i++) {
                    double v = Math.rint(w[base + i] / scales[c]) + zps[c];
                    q[base + i] = (byte) Math.max(qmin, Math.min(qmax, v));
                }
            }
        if (pairs != null && symmetric) {
            int[] local = null;
            for (int c = 0; c < channels; c++) {
                int[] ps = pairs.byChannel()[c];
                boolean bad = false;
                for (int i = 0; i + 1 < ps.length && !bad; i += 2) bad = Int16Pairs.pairSum(q[ps[i]], q[ps[i + 1]]) > Int16Pairs.PAIR_LIMIT;
                if (!bad) continue;
                if (local == null) local = new int[w.length];
                int[] idx = new int[(int) (outer * inner)];
                int k = 0;
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++) {
                        int flat = (int) ((o * (long) channels + c) * inner + i);
                        local[flat] = k;
                        idx[k++] = flat;
                    }
                scales[c] = safeChannel(w, idx, local, ps, scales[c], qmax, q);
            }
        }
        return new QWeights(q, scales, zps);
    }

    /**
     * The saturation-safe grid of one symmetric weight channel (elements {@code idx}, pairs {@code ps} as flat
     * indices, {@code local[flat]} = position in {@code idx}): among scales from {@code s0} up to the one at which
     * no same-sign pair can exceed {@link Int16Pairs#PAIR_LIMIT} (17 geometric steps), the one with the least
     * squared weight error after every still-too-large pair is pulled toward zero (one level at a time, from the
     * value rounded furthest away). Writes the levels into {@code q}; returns the scale.
     * <p>
     * Where a channel has few large same-sign neighbours this keeps nearly the whole 8-bit grid (7-bit weights
     * everywhere, NNCF's {@code overflow_fix}, halve it); where many pairs are large it ends near 7 bits.
     */
    static float safeChannel(float[] w, int[] idx, int[] local, int[] ps, float s0, int qmax, byte[] q) {
        double worst = 0;
        for (int i = 0; i + 1 < ps.length; i += 2) {
            float a = w[ps[i]], b = w[ps[i + 1]];
            if ((a >= 0) == (b >= 0)) worst = Math.max(worst, Math.abs(a) + Math.abs(b));
        }
        double sHi = Math.max(s0, worst / (Int16Pairs.PAIR_LIMIT - 1));
        int steps = sHi > s0 * (1 + 1e-6) ? 16 : 0;
        int[] cand = new int[idx.length], best = null;
        float bestScale = s0;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int t = 0; t <= steps; t++) {
            float s = (float) (steps == 0 ? s0 : s0 * Math.pow(sHi / s0, t / (double) steps));
            for (int i = 0; i < idx.length; i++) cand[i] = (int) Math.max(-qmax, Math.min(qmax, Math.rint(w[idx[i]] / s)));
            for (int i = 0; i + 1 < ps.length; i += 2) {
                int a = local[ps[i]], b = local[ps[i + 1]];
                while ((cand[a] >= 0) == (cand[b] >= 0) && Math.abs(cand[a]) + Math.abs(cand[b]) > Int16Pairs.PAIR_LIMIT) {
                    double overA = Math.abs(cand[a]) - Math.abs(w[idx[a]] / s), overB = Math.abs(cand[b]) - Math.abs(w[idx[b]] / s);
                    int j = overA >= overB ? a : b;
                    cand[j] -= Integer.signum(cand[j]);
                }
            }
            double err = 0;
            for (int i = 0; i < idx.length; i++) {
                double d = w[idx[i]] - s * (double) cand[i];
                err += d * d;
            }
            if (err < bestErr) {
                bestErr = err;
                bestScale = s;
                best = cand.clone();
            }
        }
        for (int i = 0; i < idx.length; i++) q[idx[i]] = (byte) best[i];
        return bestScale;
    }

    /** [low, high] of one weight channel by the estimator's reductions (weights are one "sample"). */
    private static float[] channelRange(float[] v, RangeSpec r) {
        float mn = Float.POSITIVE_INFINITY, mx = Float.NEGATIVE_INFINITY;
        for (float x : v) { mn = Math.min(mn, x); mx = Math.max(mx, x); }
        float lo = mn, hi = mx;
        if (r.lowType() == Reduce.QUANTILE || r.highType() == Reduce.QUANTILE) {
            float[] c = Arrays.copyOf(v, v.length);
            if (r.lowType() == Reduce.QUANTILE) lo = Select.kth(c, (int) Math.floor(r.outlierProb() * (v.length - 1)));
            if (r.highType() == Reduce.QUANTILE) hi = Select.kth(c, (int) Math.ceil((1 - r.outlierProb()) * (v.length - 1)));
        }
        if (r.highType() == Reduce.ABS_MAX) { hi = Math.max(-mn, mx); lo = -hi; }
        return new float[]{lo, hi};
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
