package org.ptq4j.plugins.transformer;

import org.pf4j.Extension;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

/**
 * Metric {@code embedding_cosine}: fidelity of a sentence-embedding model to its reference (FP32)
 * model. Per sentence, the token states {@code [T, H]} of both models are mean-pooled over the
 * tokens the attention mask keeps, and the cosine of the two pooled vectors is the sample's value;
 * the metric is the mean over sentences (1.0 = identical embeddings).
 * <p>
 * The attention mask is the model's {@code attention_mask} input of the same batch; a model without
 * one has every token pooled. A rank-2 output {@code [N, H]}
 * (an already pooled embedding) is compared as it is.
 */
@Extension
public final class EmbeddingCosineMetricFactory implements MetricFactory {

    @Override public String type() { return "embedding_cosine"; }

    @Override public String description() { return "mean-pooled sentence-embedding cosine vs the reference (FP32) model"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(ParamSpec.string("output", null, "model output with token states [N, T, H] (default: last_hidden_state, else the first output)"));
    }

    @Override
    public Metric create(Params params, MetricContext context) {
        List<ValueInfo> outs = context.modelOutputs();
        String output = params.string("output").orElseGet(() -> outs.stream().map(ValueInfo::name)
                .filter("last_hidden_state"::equals).findFirst().orElse(outs.isEmpty() ? null : outs.get(0).name()));
        if (output == null || outs.stream().noneMatch(v -> v.name().equals(output)))
            throw new PtqException("metric embedding_cosine: output '" + output + "' is not an output of the model (outputs: "
                    + outs.stream().map(ValueInfo::name).toList() + ")");
        return new EmbeddingCosine(output);
    }

    /** The metric; stateless, accumulators carry the sums. */
    public record EmbeddingCosine(String output) implements Metric {
        @Override public String name() { return "embedding_cosine"; }
        @Override public boolean higherIsBetter() { return true; }
        /** No labels: the attention mask is read from the model inputs. */
        @Override public boolean needsAnnotations() { return false; }
        @Override public boolean needsReference() { return true; }
        @Override public Accumulator newAccumulator() { return new Acc(output); }
    }

    /** Sum of per-sentence cosines and their count: mergeable and serializable. */
    static final class Acc implements Metric.Accumulator {
        private static final long serialVersionUID = 1L;
        private final String output;
        private double sum;
        private long count;

        Acc(String output) { this.output = output; }

        @Override
        public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations) {
            return update(outputs, reference, annotations, Map.of());
        }

        /** Pools with the {@code attention_mask} model input when there is one (all tokens otherwise). */
        @Override
        public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations, Map<String, Tensor> inputs) {
            Tensor maskInput = inputs == null ? null : inputs.get("attention_mask");
            long[] masks = maskInput == null ? null : maskInput.longs();
            Tensor y = outputs.get(output), r = reference == null ? null : reference.get(output);
            if (y == null || r == null) throw new PtqException("metric embedding_cosine: output '" + output
                    + "' missing from " + (y == null ? "the model's" : "the reference model's") + " outputs");
            if (!java.util.Arrays.equals(y.shape(), r.shape())) throw new PtqException("metric embedding_cosine: output '" + output
                    + "' has shape " + java.util.Arrays.toString(y.shape()) + " but the reference's is " + java.util.Arrays.toString(r.shape()));
            int n = (int) y.dim(0);
            int t = y.rank() == 3 ? (int) y.dim(1) : 1;
            int h = (int) y.dim(-1);
            if (masks != null && y.rank() == 3 && masks.length != (long) n * t)
                throw new PtqException("metric embedding_cosine: attention_mask has " + masks.length + " values, output '" + output + "' has " + n + "x" + t + " tokens");
            FloatBuffer a = floats(y), b = floats(r);
            double[] per = new double[n];
            for (int i = 0; i < n; i++) {
                long[] mask = masks == null || y.rank() != 3 ? null : java.util.Arrays.copyOfRange(masks, i * t, (i + 1) * t);
                per[i] = cosine(pool(a, i, t, h, mask), pool(b, i, t, h, mask));
                sum += per[i];
            }
            count += n;
            return per;
        }

        /** Mean of sample {@code i}'s token vectors over the tokens with mask != 0 (all tokens without a mask). */
        static double[] pool(FloatBuffer f, int i, int t, int h, long[] mask) {
            double[] p = new double[h];
            int kept = 0;
            for (int j = 0; j < t; j++) {
                if (mask != null && j < mask.length && mask[j] == 0) continue;
                int base = (i * t + j) * h;
                for (int k = 0; k < h; k++) p[k] += f.get(base + k);
                kept++;
            }
            if (kept > 0) for (int k = 0; k < h; k++) p[k] /= kept;
            return p;
        }

        static double cosine(double[] u, double[] v) {
            double uv = 0, uu = 0, vv = 0;
            for (int k = 0; k < u.length; k++) { uv += u[k] * v[k]; uu += u[k] * u[k]; vv += v[k] * v[k]; }
            return uu == 0 && vv == 0 ? 1.0 : uv / Math.sqrt(uu * vv + 1e-30);
        }

        private static FloatBuffer floats(Tensor t) {
            return t.dtype() == org.ptq4j.spi.tensor.DType.FLOAT ? t.floatView() : FloatBuffer.wrap(t.floats());
        }

        @Override
        public void merge(Metric.Accumulator other) {
            Acc o = (Acc) other;
            sum += o.sum;
            count += o.count;
        }

        @Override public double value() { return count == 0 ? Double.NaN : sum / count; }

        @Override public long count() { return count; }
    }
}
