package org.ptq4j.spi.stats;

import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * POT-style range estimator of an activation, per tensor: each sample is reduced to one low and
 * one high value, then the per-sample values are aggregated over all samples. Result: {@link Range}.
 *
 * @param lowType     MIN or QUANTILE (quantile {@code outlierProb} of the sample's values)
 * @param lowAgg      how per-sample lows combine: MEAN, MIN, MAX, MEDIAN
 * @param highType    MAX, ABS_MAX (high = max|x|, low = -high) or QUANTILE (1 - outlierProb)
 * @param highAgg     how per-sample highs combine
 * @param outlierProb fraction of values treated as outliers on each side by QUANTILE
 */
public record RangeSpec(Reduce lowType, Aggregate lowAgg, Reduce highType, Aggregate highAgg, double outlierProb)
        implements CollectorSpec {

    public enum Reduce { MIN, MAX, ABS_MAX, QUANTILE }

    public enum Aggregate { MEAN, MIN, MAX, MEDIAN }

    /** Plain min/max over all samples. */
    public static RangeSpec minMax() { return new RangeSpec(Reduce.MIN, Aggregate.MIN, Reduce.MAX, Aggregate.MAX, 0); }

    @Override
    public Collector create() { return new RangeCollector(this); }

    /** Per-sample lows and highs; state grows by two floats a sample. */
    public static final class RangeCollector implements Collector {
        private final RangeSpec spec;
        private float[] lows = new float[64];
        private float[] highs = new float[64];
        private int n;
        private transient float[] scratch;

        RangeCollector(RangeSpec spec) { this.spec = spec; }

        @Override
        public void update(Tensor batch) {
            int samples = (int) (batch.rank() == 0 ? 1 : batch.dim(0));
            int per = (int) (batch.numElements() / Math.max(1, samples));
            FloatBuffer fb = batch.dtype() == org.ptq4j.spi.tensor.DType.FLOAT ? batch.floatView() : FloatBuffer.wrap(batch.floats());
            if (scratch == null || scratch.length < per) scratch = new float[per];
            for (int s = 0; s < samples; s++) {
                fb.position(s * per);
                fb.get(scratch, 0, per);
                float lo, hi;
                if (spec.highType == Reduce.QUANTILE || spec.lowType == Reduce.QUANTILE) {
                    float[] copy = Arrays.copyOf(scratch, per);
                    int kLo = (int) Math.floor(spec.outlierProb * (per - 1));
                    int kHi = (int) Math.ceil((1 - spec.outlierProb) * (per - 1));
                    float qHi = Select.kth(copy, kHi);
                    float qLo = Select.kth(copy, kLo);
                    float[] mm = minMax(scratch, per);
                    lo = spec.lowType == Reduce.QUANTILE ? qLo : mm[0];
                    hi = spec.highType == Reduce.QUANTILE ? qHi : spec.highType == Reduce.ABS_MAX ? Math.max(-mm[0], mm[1]) : mm[1];
                } else {
                    float[] mm = minMax(scratch, per);
                    lo = mm[0];
                    hi = spec.highType == Reduce.ABS_MAX ? Math.max(-mm[0], mm[1]) : mm[1];
                }
                if (spec.highType == Reduce.ABS_MAX) lo = -hi;
                add(lo, hi);
            }
        }

        private static float[] minMax(float[] a, int len) {
            float mn = Float.POSITIVE_INFINITY, mx = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++) {
                float v = a[i];
                mn = Math.min(mn, v);
                mx = Math.max(mx, v);
            }
            return new float[]{mn, mx};
        }

        private void add(float lo, float hi) {
            if (n == lows.length) { lows = Arrays.copyOf(lows, n * 2); highs = Arrays.copyOf(highs, n * 2); }
            lows[n] = lo;
            highs[n] = hi;
            n++;
        }

        @Override
        public void merge(Collector other) {
            RangeCollector o = (RangeCollector) other;
            for (int i = 0; i < o.n; i++) add(o.lows[i], o.highs[i]);
        }

        @Override
        public Range result() {
            if (n == 0) throw new IllegalStateException("no samples collected");
            return new Range(aggregate(lows, spec.lowAgg), aggregate(highs, spec.highAgg));
        }

        private float aggregate(float[] v, Aggregate agg) {
            switch (agg) {
                case MIN: { float m = Float.POSITIVE_INFINITY; for (int i = 0; i < n; i++) m = Math.min(m, v[i]); return m; }
                case MAX: { float m = Float.NEGATIVE_INFINITY; for (int i = 0; i < n; i++) m = Math.max(m, v[i]); return m; }
                case MEAN: { double s = 0; for (int i = 0; i < n; i++) s += v[i]; return (float) (s / n); }
                default: { float[] c = Arrays.copyOf(v, n); Arrays.sort(c); return n % 2 == 1 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2; }
            }
        }
    }
}
