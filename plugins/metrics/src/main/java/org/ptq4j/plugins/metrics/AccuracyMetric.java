package org.ptq4j.plugins.metrics;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * Top-k accuracy of class scores {@code [N, C]} against INT class-id annotations: a sample counts
 * as correct when its label is among the {@code k} highest scores (ties go to the lower class id,
 * as argmax does). Per-sample values are 1 or 0.
 */
public final class AccuracyMetric implements Metric {
    private final String name;
    private final String output;
    private final int k;

    AccuracyMetric(String name, String output, int k) {
        this.name = name;
        this.output = output;
        this.k = k;
    }

    @Override public String name() { return name; }
    @Override public boolean higherIsBetter() { return true; }
    @Override public boolean needsAnnotations() { return true; }
    @Override public boolean needsReference() { return false; }
    @Override public Accumulator newAccumulator() { return new Acc(name, output, k); }

    public String output() { return output; }

    public int k() { return k; }

    /** Whether {@code label} is among the top {@code k} of {@code scores[off, off+classes)}. */
    static boolean inTopK(float[] scores, int off, int classes, int label, int k) {
        float s = scores[off + label];
        int better = 0;
        for (int j = 0; j < classes && better < k; j++) {
            float v = scores[off + j];
            if (v > s || (v == s && j < label)) better++;
        }
        return better < k;
    }

    static final class Acc implements Accumulator {
        private static final long serialVersionUID = 1L;
        private final String name;
        private final String output;
        private final int k;
        private long correct, count;

        Acc(String name, String output, int k) {
            this.name = name;
            this.output = output;
            this.k = k;
        }

        @Override
        public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations) {
            Tensor y = Outputs.get(name, output, outputs, "model");
            if (y.rank() != 2)
                throw new PtqException("metric '" + name + "': output '" + output + "' has shape " + Outputs.shape(y)
                        + "; expected class scores [batch, classes]");
            int n = (int) y.dim(0), classes = (int) y.dim(1);
            if (k > classes)
                throw new PtqException("metric '" + name + "': top_k " + k + " exceeds the " + classes + " classes of output '" + output + "'");
            if (annotations == null || annotations.size() != n)
                throw new PtqException("metric '" + name + "' needs one label per sample: got " + (annotations == null ? 0 : annotations.size())
                        + " for a batch of " + n + " (is the dataset annotated?)");
            float[] v = y.floats();
            double[] values = new double[n];
            for (int i = 0; i < n; i++) {
                long label = label(annotations.get(i), i, classes);
                values[i] = inTopK(v, i * classes, classes, (int) label, k) ? 1 : 0;
                correct += (long) values[i];
            }
            count += n;
            return values;
        }

        private long label(Tensor a, int i, int classes) {
            if (a == null) throw new PtqException("metric '" + name + "': sample " + i + " of the batch has no label (is the dataset annotated?)");
            if (a.numElements() != 1 || a.dtype().isFloatingPoint())
                throw new PtqException("metric '" + name + "': sample " + i + " of the batch has annotation " + a + "; expected one integer class id");
            long label = a.longs()[0];
            if (label < 0 || label >= classes)
                throw new PtqException("metric '" + name + "': label " + label + " of sample " + i + " of the batch is outside the "
                        + classes + " classes (0.." + (classes - 1) + ") of output '" + output + "'");
            return label;
        }

        @Override
        public void merge(Accumulator other) {
            if (!(other instanceof Acc o) || o.k != k) throw new IllegalArgumentException("cannot merge " + other + " into " + this);
            correct += o.correct;
            count += o.count;
        }

        @Override public double value() { return count == 0 ? Double.NaN : (double) correct / count; }

        @Override public long count() { return count; }

        @Override public String toString() { return name + "(" + output + ", k=" + k + ", n=" + count + ")"; }
    }
}
