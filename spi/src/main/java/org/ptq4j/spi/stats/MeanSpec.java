package org.ptq4j.spi.stats;

import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Mean of a tensor over samples. With {@code channelAxis >= 1} the result is the per-channel mean
 * over every other axis ({@code float[C]}); with {@code channelAxis = -1} it is the element-wise
 * mean over the sample axis, keeping the rest of the shape (a {@link Tensor} of shape [1, ...]).
 */
public record MeanSpec(int channelAxis) implements CollectorSpec {

    public static MeanSpec perChannel(int axis) { return new MeanSpec(axis); }

    public static MeanSpec overSamples() { return new MeanSpec(-1); }

    @Override
    public Collector create() { return new MeanCollector(channelAxis); }

    public static final class MeanCollector implements Collector {
        private final int axis;
        private double[] sum;
        private long[] shape;
        private long count;

        MeanCollector(int axis) { this.axis = axis; }

        @Override
        public void update(Tensor batch) {
            long[] s = batch.shape();
            FloatBuffer fb = batch.dtype() == org.ptq4j.spi.tensor.DType.FLOAT ? batch.floatView() : FloatBuffer.wrap(batch.floats());
            int n = (int) s[0];
            int per = (int) (batch.numElements() / Math.max(1, n));
            if (axis < 0) {
                if (sum == null) { sum = new double[per]; shape = s.clone(); shape[0] = 1; }
                for (int i = 0; i < n; i++) for (int j = 0; j < per; j++) sum[j] += fb.get(i * per + j);
                count += n;
            } else {
                int c = (int) s[axis];
                long inner = 1;
                for (int d = axis + 1; d < s.length; d++) inner *= s[d];
                long outer = batch.numElements() / (c * inner);
                if (sum == null) sum = new double[c];
                float[] row = new float[(int) inner];
                int p = 0;
                for (long o = 0; o < outer; o++) {
                    for (int ch = 0; ch < c; ch++) {
                        fb.position(p);
                        fb.get(row);
                        p += (int) inner;
                        double acc = 0;
                        for (float v : row) acc += v;
                        sum[ch] += acc;
                    }
                }
                count += outer * inner;
            }
        }

        @Override
        public void merge(Collector other) {
            MeanCollector o = (MeanCollector) other;
            if (o.sum == null) return;
            if (sum == null) { sum = o.sum.clone(); shape = o.shape; count = o.count; return; }
            for (int i = 0; i < sum.length; i++) sum[i] += o.sum[i];
            count += o.count;
        }

        /** float[C] for per-channel, Tensor [1, ...] for over-samples. */
        @Override
        public Object result() {
            if (sum == null) throw new IllegalStateException("no samples collected");
            float[] m = new float[sum.length];
            for (int i = 0; i < m.length; i++) m[i] = (float) (sum[i] / count);
            return axis < 0 ? Tensor.ofFloats(shape, m) : m;
        }
    }
}
