package org.ptq4j.spi.stats;

import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Histogram range estimator of an activation, per tensor: all values of all samples go into a fixed
 * number of bins, then the clipping range that minimises the expected squared quantization error on the
 * target grid is chosen (what PyTorch's HistogramObserver and NNCF's HISTOGRAM aggregator do): values
 * inside cost {@code step^2 / 12}, values clipped cost their squared distance to the range's end.
 * Result: {@link Range}, the chosen clipping range.
 * <p>
 * State is bounded ({@code 2 * bins} longs whatever the sample count) and mergeable across batches,
 * threads and machines: positive values and negative magnitudes each have {@code bins} bins over
 * {@code [0, 2^k)}; when a larger value arrives, {@code k} grows and bins are merged pairwise, so two
 * collectors always meet at the larger power of two exactly.
 *
 * @param bins      bins per sign (power of two, e.g. 2048)
 * @param levels    levels of the target grid (255 for uint8)
 * @param symmetric symmetric grid: zero point 0 for non-negative tensors, mid-range otherwise (range ±c);
 *                  asymmetric: free {@code [lo, hi]}
 */
public record HistogramSpec(int bins, int levels, boolean symmetric) implements CollectorSpec {

    public HistogramSpec {
        if (bins < 16 || Integer.bitCount(bins) != 1) throw new IllegalArgumentException("bins must be a power of two >= 16, got " + bins);
        if (levels < 2) throw new IllegalArgumentException("levels must be >= 2, got " + levels);
    }

    @Override
    public Collector create() { return new HistogramCollector(this); }

    /** Positive and negative-magnitude counts over {@code [0, 2^exp)}. */
    public static final class HistogramCollector implements Collector {
        private final HistogramSpec spec;
        private final long[] pos, neg;
        private int exp = Integer.MIN_VALUE;          // range [0, 2^exp); MIN_VALUE: nothing seen yet

        HistogramCollector(HistogramSpec spec) {
            this.spec = spec;
            pos = new long[spec.bins];
            neg = new long[spec.bins];
        }

        @Override
        public void update(Tensor batch) {
            FloatBuffer fb = batch.dtype() == DType.FLOAT ? batch.floatView() : FloatBuffer.wrap(batch.floats());
            int n = fb.remaining();
            float max = 0;
            for (int i = 0; i < n; i++) {
                float v = Math.abs(fb.get(i));
                if (v > max && Float.isFinite(v)) max = v;
            }
            grow(max);
            if (exp == Integer.MIN_VALUE) return;                 // all zeros so far: they are exact on any grid
            double perBin = spec.bins / Math.scalb(1.0, exp);
            int last = spec.bins - 1;
            for (int i = 0; i < n; i++) {
                float v = fb.get(i);
                if (v > 0) pos[Math.min(last, (int) (v * perBin))]++;
                else if (v < 0) neg[Math.min(last, (int) (-v * perBin))]++;
            }
        }

        /** Widens the range to hold {@code max}: each doubling merges bins pairwise. */
        private void grow(double max) {
            if (max <= 0 || !Double.isFinite(max)) return;
            int need = Math.getExponent(max) + 1;          // max < 2^need
            if (exp == Integer.MIN_VALUE) { exp = need; return; }
            while (exp < need) {
                halve(pos);
                halve(neg);
                exp++;
            }
        }

        private static void halve(long[] c) {
            int half = c.length / 2;
            for (int j = 0; j < half; j++) c[j] = c[2 * j] + c[2 * j + 1];
            java.util.Arrays.fill(c, half, c.length, 0);
        }

        @Override
        public void merge(Collector other) {
            HistogramCollector o = (HistogramCollector) other;
            if (o.exp == Integer.MIN_VALUE) return;
            long[] op = o.pos.clone(), on = o.neg.clone();
            int oe = o.exp;
            if (exp == Integer.MIN_VALUE) exp = oe;
            while (exp < oe) { halve(pos); halve(neg); exp++; }
            while (oe < exp) { halve(op); halve(on); oe++; }
            for (int j = 0; j < pos.length; j++) { pos[j] += op[j]; neg[j] += on[j]; }
        }

        @Override
        public Object result() {
            if (exp == Integer.MIN_VALUE) return new Range(0f, 0f);
            double w = Math.scalb(1.0, exp) / spec.bins;
            int topPos = top(pos), topNeg = top(neg);
            double hiMax = topPos < 0 ? 0 : (topPos + 1) * w, loMax = topNeg < 0 ? 0 : (topNeg + 1) * w;
            double lo, hi;
            if (topNeg < 0) {                                       // non-negative tensor: [0, c]
                lo = 0;
                hi = bestOneSided(pos, neg, w, topPos, spec.levels, false);
            } else if (spec.symmetric) {                            // [-c, c], step 2c / (levels - 1)
                double c = bestOneSided(pos, neg, w, Math.max(topPos, topNeg), spec.levels / 2, true);
                lo = -c;
                hi = c;
            } else {                                                // [lo, hi]: coordinate search, two rounds
                lo = -loMax;
                hi = hiMax;
                for (int round = 0; round < 2; round++) {
                    hi = bestEnd(pos, neg, w, topPos, lo, spec.levels);
                    lo = -bestEnd(neg, pos, w, topNeg, -hi, spec.levels);
                }
            }
            return new Range((float) lo, (float) hi);
        }

        private static int top(long[] c) {
            for (int j = c.length - 1; j >= 0; j--) if (c[j] > 0) return j;
            return -1;
        }

        /**
         * The clip {@code c} (a bin's upper edge) minimising the error of a grid of {@code steps} steps over
         * {@code [0, c]} (or {@code [-c, c]} with {@code both}: negative magnitudes clipped at c too).
         */
        private static double bestOneSided(long[] pos, long[] neg, double w, int top, int steps, boolean both) {
            double best = Double.POSITIVE_INFINITY, bestC = (top + 1) * w;
            for (int e = Math.max(0, top / 8); e <= top; e++) {      // clip no lower than 1/8 of the max
                double c = (e + 1) * w, step = c / steps;
                double err = inside(pos, e) * step * step / 12 + outside(pos, e, c, w);
                if (both) err += inside(neg, e) * step * step / 12 + outside(neg, e, c, w);
                if (err < best) { best = err; bestC = c; }
            }
            return bestC;
        }

        /**
         * The end on the side of {@code side} (upper end of positives, or magnitude of the lower end when the
         * roles are swapped) minimising the error given the other end at {@code otherEnd} (signed, toward the
         * other side), on a grid of {@code levels} levels over the whole range.
         */
        private static double bestEnd(long[] side, long[] other, double w, int top, double otherEnd, int levels) {
            if (top < 0) return 0;
            double best = Double.POSITIVE_INFINITY, bestC = (top + 1) * w;
            double o = Math.abs(otherEnd);
            int otherClip = (int) Math.min(other.length - 1, Math.max(0, Math.ceil(o / w) - 1));
            double otherOut = outside(other, otherClip, o, w);
            long otherIn = inside(other, otherClip);
            for (int e = Math.max(0, top / 8); e <= top; e++) {
                double c = (e + 1) * w, step = (c + o) / (levels - 1);
                double err = (inside(side, e) + otherIn) * step * step / 12 + outside(side, e, c, w) + otherOut;
                if (err < best) { best = err; bestC = c; }
            }
            return bestC;
        }

        private static long inside(long[] c, int e) {
            long s = 0;
            for (int j = 0; j <= e && j < c.length; j++) s += c[j];
            return s;
        }

        /** Squared distance of the values in bins above {@code e} (at their bin centres) to the clip {@code c}. */
        private static double outside(long[] c, int e, double clip, double w) {
            double s = 0;
            for (int j = e + 1; j < c.length; j++) {
                if (c[j] == 0) continue;
                double d = (j + 0.5) * w - clip;
                s += c[j] * d * d;
            }
            return s;
        }
    }
}
