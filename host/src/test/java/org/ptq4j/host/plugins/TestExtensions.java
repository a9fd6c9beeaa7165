package org.ptq4j.host.plugins;

import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Small real extensions for the host's own tests (registered by hand, not {@code @Extension}, so
 * they do not leak into plugin tests through the host test-jar).
 */
public final class TestExtensions {
    private TestExtensions() {}

    /** A registry with the test extensions below. */
    public static Registry registry() {
        return new Registry().add(new AddMetadata(), "test").add(new RangeProbe(), "test").add(new InsertIdentity(), "test")
                .add(new NpyDatasetFactory(), "test").add(new Top1Factory(), "test");
    }

    /** Adds a metadata entry; has one parameter of every kind so the validator can be exercised. */
    public static final class AddMetadata implements Algorithm {
        @Override public String name() { return "AddMetadata"; }
        @Override public String description() { return "adds a metadata_props entry"; }
        @Override public List<ParamSpec> parameters() {
            return List.of(ParamSpec.string("key", null, "metadata key").asRequired(),
                    ParamSpec.string("value", "yes", "metadata value"),
                    ParamSpec.integer("repeat", 1, "how often").withRange(1d, 10d),
                    ParamSpec.choice("mode", "fast", "how", "fast", "slow"),
                    ParamSpec.number("ratio", 0.5, "a fraction").withRange(0d, 1d),
                    ParamSpec.bool("enabled", true, "on/off"),
                    ParamSpec.strings("names", "node names"),
                    ParamSpec.map("extra", "nested", ParamSpec.integer("depth", 2, "nested int").withRange(0d, 5d)),
                    ParamSpec.path("dump_to", "a file the step would write"));
        }
        @Override public Model apply(Model model, Params p, Statistics s, PipelineContext c) {
            Model m = model.copy();
            m.metadata().put(p.getString("key"), p.getString("value").repeat(p.getInt("repeat")));
            return m;
        }
    }

    /** Collects min/max of every graph input and node output; records them as metadata. */
    public static final class RangeProbe implements Algorithm {
        @Override public String name() { return "RangeProbe"; }
        @Override public String description() { return "records activation ranges as metadata"; }
        @Override public List<ParamSpec> parameters() { return List.of(ParamSpec.integer("stat_subset_size", 100, "samples").withRange(1d, null)); }
        @Override public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
            List<StatisticRequest> r = new ArrayList<>();
            model.graph().feedInputs().forEach(v -> r.add(new StatisticRequest(v.name(), RangeSpec.minMax())));
            for (Node n : model.graph().nodes()) r.add(new StatisticRequest(n.output(0), RangeSpec.minMax()));
            return r;
        }
        @Override public Model apply(Model model, Params p, Statistics s, PipelineContext c) {
            Model m = model.copy();
            for (StatisticRequest r : statistics(model, p, c)) {
                Range range = (Range) s.get(r);
                m.metadata().put("range." + r.tensor(), range.toString());
            }
            m.metadata().put("range.samples", Integer.toString(s.samples()));
            return m;
        }
    }

    /** Puts an Identity node between the first graph input and its consumers (a real graph edit ORT must run). */
    public static final class InsertIdentity implements Algorithm {
        @Override public String name() { return "InsertIdentity"; }
        @Override public String description() { return "inserts an Identity after the first input"; }
        @Override public List<ParamSpec> parameters() { return List.of(); }
        @Override public Model apply(Model model, Params p, Statistics s, PipelineContext c) {
            Model m = model.copy();
            String in = m.graph().feedInputs().get(0).name();
            String out = m.graph().uniqueName(in + "_identity");
            m.graph().renameInputs(in, out);
            m.graph().nodes().add(0, Node.of(m.graph().uniqueName("identity"), "Identity", List.of(in), List.of(out)));
            m.graph().touch();
            return m;
        }
    }

    /** {@code type: test_npy}: rows of one .npy feed the model's first input; optional labels. */
    public static final class NpyDatasetFactory implements DatasetFactory {
        @Override public String type() { return "test_npy"; }
        @Override public String description() { return "rows of an .npy file"; }
        @Override public List<ParamSpec> parameters() {
            return List.of(ParamSpec.path("path", "the .npy file").asRequired(), ParamSpec.path("labels", "labels .npy"),
                    ParamSpec.integer("limit", null, "use the first N rows").withRange(1d, null));
        }
        @Override public Dataset open(Params p, DatasetContext ctx) {
            Tensor all = Npy.read(p.path("path").orElseThrow());
            Tensor labels = p.path("labels").map(Npy::read).orElse(null);
            String input = ctx.modelInputs().get(0).name();
            int n = (int) Math.min(all.dim(0), p.integer("limit").orElse(Integer.MAX_VALUE));
            if (labels != null && labels.dim(0) < n) throw new PtqException(p.path("labels").get() + ": fewer labels than samples");
            long[] itemShape = java.util.Arrays.copyOfRange(all.shape(), 1, all.rank());
            return new Dataset() {
                @Override public int size() { return n; }
                @Override public boolean annotated() { return labels != null; }
                @Override public Sample get(int i) {
                    Tensor t = all.slice0(i, i + 1).reshape(itemShape);
                    return new Sample(i, "row " + i, Map.of(input, t), labels == null ? null : labels.slice0(i, i + 1).reshape());
                }
            };
        }
    }

    /** {@code type: test_top1}: fraction of samples whose argmax equals the label. */
    public static final class Top1Factory implements MetricFactory {
        @Override public String type() { return "test_top1"; }
        @Override public String description() { return "top-1 accuracy"; }
        @Override public List<ParamSpec> parameters() { return List.of(); }
        @Override public Metric create(Params p, MetricContext ctx) {
            String out = ctx.modelOutputs().get(0).name();
            return new Metric() {
                @Override public String name() { return "test_top1"; }
                @Override public boolean higherIsBetter() { return true; }
                @Override public boolean needsAnnotations() { return true; }
                @Override public boolean needsReference() { return false; }
                @Override public Accumulator newAccumulator() { return new Acc(out); }
            };
        }

        static final class Acc implements Metric.Accumulator {
            final String out;
            long hits, count;
            Acc(String out) { this.out = out; }
            @Override public double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations) {
                Tensor t = outputs.get(out);
                float[] v = t.floats();
                int n = (int) t.dim(0), k = (int) (t.numElements() / n);
                double[] r = new double[n];
                for (int i = 0; i < n; i++) {
                    int best = 0;
                    for (int j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
                    r[i] = best == annotations.get(i).longs()[0] ? 1 : 0;
                    hits += (long) r[i];
                }
                count += n;
                return r;
            }
            @Override public void merge(Metric.Accumulator o) { hits += ((Acc) o).hits; count += ((Acc) o).count; }
            @Override public double value() { return count == 0 ? 0 : (double) hits / count; }
            @Override public long count() { return count; }
        }
    }
}
