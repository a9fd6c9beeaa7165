package org.ptq4j.plugins.metrics;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** A {@link Fidelity} measure of one model output against the reference model's same output. */
public final class FidelityMetric implements Metric {
    private final Fidelity kind;
    private final String output;

    FidelityMetric(Fidelity kind, String output) {
        this.kind = kind;
        this.output = output;
    }

    @Override public String name() { return kind.type; }
    @Override public boolean higherIsBetter() { return kind.higherIsBetter; }
    @Override public boolean needsAnnotations() { return false; }
    @Override public boolean needsReference() { return true; }
    @Override public Accumulator newAccumulator() { return new Acc(kind, output); }

    /** The output this metric judges. */
    public String output() { return output; }

    static final class Acc implements Accumulator {
        private static final long serialVersionUID = 1L;
        private final Fidelity kind;
        private final String output;
        private long count;
        private double valueSum, signal, noise, elements;

        Acc(Fidelity kind, String output) {
            this.kind = kind;
            this.output = output;
        }

        @Override
        public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations) {
            Tensor y = Outputs.get(kind.type, output, outputs, "model");
            Tensor r = Outputs.get(kind.type, output, reference, "reference");
            if (!Arrays.equals(y.shape(), r.shape()))
                throw new PtqException("metric '" + kind.type + "': output '" + output + "' has shape " + Outputs.shape(y)
                        + " but the reference's has " + Outputs.shape(r) + "; the models must produce equally shaped outputs");
            float[] yv = y.floats(), rv = r.floats();
            int n = (int) y.dim(0), len = n == 0 ? 0 : yv.length / n;
            int last = y.rank() >= 2 ? (int) y.dim(-1) : len;
            double[] values = new double[n];
            for (int i = 0; i < n; i++) {
                double[] s = kind.row(yv, rv, i * len, len, Math.max(last, 1));
                signal += s[0];
                noise += s[1];
                values[i] = s[2];
                valueSum += s[2];
            }
            count += n;
            elements += (double) len * n;
            return values;
        }

        @Override
        public void merge(Accumulator other) {
            if (!(other instanceof Acc o) || o.kind != kind) throw new IllegalArgumentException("cannot merge " + other + " into " + this);
            count += o.count;
            valueSum += o.valueSum;
            signal += o.signal;
            noise += o.noise;
            elements += o.elements;
        }

        @Override
        public double value() {
            if (count == 0) return Double.NaN;
            return switch (kind) {
                case SQNR -> Fidelity.decibels(signal, noise);
                case MSE -> noise / elements;
                default -> valueSum / count;
            };
        }

        @Override public long count() { return count; }

        @Override public String toString() { return kind.type + "(" + output + ", n=" + count + ")"; }
    }
}
