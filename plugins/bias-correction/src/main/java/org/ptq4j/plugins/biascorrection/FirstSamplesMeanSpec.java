package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.CollectorSpec;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The mean over the first {@code samples} samples a collector is fed (the statistics pass feeds them
 * in the order of its sample indices), so that a pass of another model over those samples can be
 * compared with it sample for sample; the samples after them are not looked at, which keeps the cost
 * independent of the calibration set's size. Alongside, per channel (axis 1), the share of positive
 * values in the first {@value #SIGN_SAMPLES} samples (what a Relu lets through).
 * <p>
 * With {@code channelAxis < 0} the mean is element-wise, a {@link Tensor} of shape [1, ...]; with
 * {@code channelAxis >= 1} each sample is first averaged over every axis but that one (so samples of
 * different lengths weigh the same) and the mean has shape [1, ..., 1, C, 1, ...] (the input's rank, C
 * at {@code channelAxis}). The result is a {@link Means}.
 * <p>
 * Merging appends the other collector's samples after this one's; a merge that would need part of the
 * other collector's samples is refused (a sum cannot be split).
 */
record FirstSamplesMeanSpec(int samples, int channelAxis) implements CollectorSpec {
    /** Samples the share of positive values is counted on (a channel's share averages all its positions: a few samples pin it down). */
    static final int SIGN_SAMPLES = 8;

    /** The mean over the first {@code count} samples, and per channel the share of positive values (null for a per-channel layout). */
    record Means(Tensor mean, int count, float[] positive) {}

    @Override
    public Collector create() { return new HeadCollector(samples, channelAxis); }

    static final class HeadCollector implements Collector {
        private final int samples, axis;
        private double[] sum;
        private long[] positive;
        private long[] shape;
        private int count;

        HeadCollector(int samples, int axis) {
            this.samples = samples;
            this.axis = axis;
        }

        @Override
        public void update(Tensor batch) {
            long[] s = batch.shape();
            int n = (int) Math.min(s[0], samples - count);
            if (n <= 0) return;
            int per = (int) (batch.numElements() / s[0]);
            if (sum == null) init(s);
            FloatBuffer fb = batch.dtype() == DType.FLOAT ? batch.floatView() : FloatBuffer.wrap(batch.floats());
            float[] row = new float[per];
            if (axis < 0) {
                // float sums within the batch (vectorised), folded into double once per batch
                int channels = s.length > 1 ? (int) s[1] : 1, plane = per / channels;
                float[] acc = new float[per];
                for (int i = 0; i < n; i++) {
                    fb.position(i * per);
                    fb.get(row);
                    for (int j = 0; j < per; j++) acc[j] += row[j];
                    if (count + i < SIGN_SAMPLES) {
                        for (int ch = 0, j = 0; ch < channels; ch++) {
                            int pos = 0;
                            for (int e = 0; e < plane; e++, j++) pos += row[j] > 0 ? 1 : 0;
                            positive[ch] += pos;
                        }
                    }
                }
                for (int j = 0; j < per; j++) sum[j] += acc[j];
            } else {
                int c = (int) s[axis];
                long inner = 1;
                for (int d = axis + 1; d < s.length; d++) inner *= s[d];
                long outer = per / (c * inner);
                double div = (double) outer * inner;
                for (int i = 0; i < n; i++) {
                    fb.position(i * per);
                    fb.get(row);
                    int p = 0;
                    for (long o = 0; o < outer; o++)
                        for (int ch = 0; ch < c; ch++) {
                            double acc = 0;
                            for (long k = 0; k < inner; k++) acc += row[p++];
                            sum[ch] += acc / div;
                        }
                }
            }
            count += n;
        }

        private void init(long[] s) {
            if (axis < 0) {
                shape = s.clone();
                shape[0] = 1;
            } else {
                shape = new long[s.length];
                Arrays.fill(shape, 1);
                shape[axis] = s[axis];
            }
            sum = new double[(int) Tensor.numElements(shape)];
            positive = new long[s.length > 1 ? (int) s[1] : 1];
        }

        @Override
        public void merge(Collector other) {
            HeadCollector o = (HeadCollector) other;
            if (o.count == 0 || count >= samples) return;
            if (sum == null) { sum = o.sum.clone(); positive = o.positive.clone(); shape = o.shape; count = o.count; return; }
            if (count + o.count > samples || count < SIGN_SAMPLES && count + o.count > SIGN_SAMPLES)
                throw new IllegalStateException("the first " + samples + " samples would take part of another shard's");
            for (int i = 0; i < sum.length; i++) sum[i] += o.sum[i];
            if (count < SIGN_SAMPLES) for (int i = 0; i < positive.length; i++) positive[i] += o.positive[i];
            count += o.count;
        }

        @Override
        public Object result() {
            if (sum == null) throw new IllegalStateException("no samples collected");
            float[] m = new float[sum.length];
            for (int i = 0; i < m.length; i++) m[i] = (float) (sum[i] / count);
            float[] pos = null;
            if (axis < 0) {
                pos = new float[positive.length];
                double perChannel = (double) Math.min(count, SIGN_SAMPLES) * sum.length / positive.length;
                for (int c = 0; c < pos.length; c++) pos[c] = (float) (positive[c] / perChannel);
            }
            return new Means(Tensor.ofFloats(shape, m), count, pos);
        }
    }
}
