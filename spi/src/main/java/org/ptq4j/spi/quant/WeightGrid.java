package org.ptq4j.spi.quant;

import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.RangeSpec.Reduce;
import org.ptq4j.spi.stats.Select;

import java.util.Arrays;

/**
 * The int8 weight grid every ptq4j quantizer uses, as code a vendor can call: symmetric weights
 * {@code zp = 0}, {@code scale = max|w| / (2^(b-1) - 1)}, values in {@code [-(2^(b-1)-1), 2^(b-1)-1]};
 * asymmetric weights levels {@code [-2^(b-1), 2^(b-1)-1]} with a free zero point. Rounding is half-to-even
 * ({@link Math#rint}), as ONNX {@code QuantizeLinear} does. Per channel along {@code axis}, or per tensor
 * ({@code axis = -1}); the range of a channel is measured by a {@link RangeSpec}'s reductions.
 * <p>
 * With {@link Int16Pairs}, symmetric 8-bit channels that could overflow the int16 pair sums of x86 CPUs
 * without VNNI get the saturation-safe grid of {@link #safeChannel}.
 */
public final class WeightGrid {
    private WeightGrid() {}

    /**
     * Quantized weights.
     *
     * @param values     int8 values (two's complement), the weight's shape
     * @param scales     one per channel (one when per tensor)
     * @param zeroPoints one per channel
     */
    public record Result(byte[] values, float[] scales, int[] zeroPoints) {}

    /** Symmetric min/max weights ({@code abs_max} per channel), the default of every ptq4j quantizer. */
    public static final RangeSpec ABS_MAX = new RangeSpec(Reduce.MIN, RangeSpec.Aggregate.MIN, Reduce.ABS_MAX, RangeSpec.Aggregate.MAX, 0);

    /** A usable scale: zero ranges (constant-zero tensors or channels) get scale 1. */
    public static float safe(float scale) {
        return scale > 1e-30f && Float.isFinite(scale) ? scale : 1f;
    }

    /**
     * Quantizes a weight tensor along {@code axis} (-1: per tensor), the range of each channel measured
     * by {@code range}'s reductions (min / max / abs_max / quantile with its outlier_prob).
     */
    /**
     * With {@code pairs} (symmetric weights only),
     * every channel whose grid would put a same-sign pair above {@link Int16Pairs#PAIR_LIMIT} gets the
     * saturation-safe grid of {@link #safeChannel}.
     */
    public static Result quantize(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range, Int16Pairs pairs) {
        return quantize(w, shape, axis, symmetric, bits, range, pairs, false);
    }

    /**
     * With {@code mse} (symmetric weights): each channel's clip is the one among {@code max|w| * (1 - k/50)},
     * k = 0..25, with the least squared error of the rounded weights (MSE-optimal clipping, as AIMET / NNCF
     * offer for weights): a few outlier weights no longer stretch the grid of all the others.
     */
    public static Result quantize(float[] w, long[] shape, int axis, boolean symmetric, int bits, RangeSpec range, Int16Pairs pairs, boolean mse) {
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
                if (mse) scales[c] = mseScale(values[c], Math.max(-lo, hi), qmax, scales[c]);
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
        return new Result(q, scales, zps);
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
    public static float safeChannel(float[] w, int[] idx, int[] local, int[] ps, float s0, int qmax, byte[] q) {
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
    /** The scale {@code c / qmax}, c in {@code max * (1 - k/50)}, k = 0..25, with the least squared rounding and clipping error. */
    static float mseScale(float[] v, float max, int qmax, float fallback) {
        if (!(max > 0)) return fallback;
        double bestErr = Double.POSITIVE_INFINITY;
        float best = fallback;
        for (int k = 0; k <= 25; k++) {
            float s = (float) (max * (1 - k / 50.0) / qmax);
            double err = 0;
            for (float x : v) {
                double d = x - s * Math.max(-qmax, Math.min(qmax, Math.rint(x / s)));
                err += d * d;
            }
            if (err < bestErr) { bestErr = err; best = s; }
        }
        return best;
    }

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

}
