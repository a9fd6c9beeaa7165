package org.ptq4j.plugins.transformer;

import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.CollectorSpec;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Per-channel {@code max |x|} over the last axis of an activation (the input-channel axis of a
 * MatMul): every other axis (samples, tokens) is reduced. Result: {@code float[C]}.
 */
public record ChannelAbsMaxSpec() implements CollectorSpec {

    @Override
    public Collector create() { return new AbsMax(); }

    /** Running per-channel maximum; merge = element-wise max. */
    static final class AbsMax implements Collector {
        private static final long serialVersionUID = 1L;
        private float[] max;

        @Override
        public void update(Tensor batch) {
            int c = (int) batch.dim(-1);
            if (max == null) max = new float[c];
            else if (max.length != c) throw new IllegalStateException("channel count changed from " + max.length + " to " + c);
            FloatBuffer f = batch.dtype() == DType.FLOAT ? batch.floatView() : FloatBuffer.wrap(batch.floats());
            int n = f.remaining();
            for (int i = 0; i < n; i++) {
                float a = Math.abs(f.get(i));
                int k = i % c;
                if (a > max[k]) max[k] = a;
            }
        }

        @Override
        public void merge(Collector other) {
            float[] o = ((AbsMax) other).max;
            if (o == null) return;
            if (max == null) { max = o.clone(); return; }
            for (int i = 0; i < max.length; i++) max[i] = Math.max(max[i], o[i]);
        }

        @Override
        public Object result() { return max == null ? new float[0] : max.clone(); }
    }
}
