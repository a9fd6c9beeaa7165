package org.ptq4j.plugins.quantization;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Shared test helpers: the real engine, FMNIST data, calibration through HostContext, top-1 accuracy. */
final class Fixtures {
    private Fixtures() {}

    static final OrtEngine ENGINE = new OrtEngine();

    /** Rows of one tensor as a dataset feeding model input {@code input}. */
    record TensorDataset(String input, Tensor rows) implements Dataset {
        @Override public int size() { return (int) rows.dim(0); }
        @Override public Sample get(int i) {
            Tensor row = rows.slice0(i, i + 1);
            long[] s = row.shape();
            return new Sample(i, "row " + i, Map.of(input, row.reshape(java.util.Arrays.copyOfRange(s, 1, s.length))), null);
        }
    }

    private static Tensor calib, test, labels;

    static synchronized Tensor calibration() {
        if (calib == null) calib = TestAssets.npy("fmnist-calib-300.npy");
        return calib;
    }

    /** The 10k test split, normalised as the models expect. */
    static synchronized Tensor testImages() {
        if (test == null) {
            Tensor u8 = TestAssets.npy("fmnist-test-10k-u8.npy");
            float[] v = u8.floats();
            for (int i = 0; i < v.length; i++) v[i] = (v[i] / 255f - 0.2860f) / 0.3530f;
            test = Tensor.ofFloats(u8.shape(), v);
        }
        return test;
    }

    static synchronized long[] testLabels() {
        if (labels == null) labels = TestAssets.npy("fmnist-test-10k-labels.npy");
        return labels.longs();
    }

    static HostContext context(Dataset calibration) {
        return HostContext.builder().engine(ENGINE).registry(Registry.fromClasspath())
                .dataset(PipelineContext.CALIBRATION, calibration).threads(1).batchSize(32).build();
    }

    static Model fmnist(String file) { return OnnxIO.read(TestAssets.model(file)); }

    /** Runs an algorithm as the pipeline does: its data-free transform, statistics, one collection pass, apply. */
    static Model run(Algorithm algo, Model model, Map<String, Object> values, HostContext ctx) {
        Params p = ctx.params(algo, values);
        model = algo.transform(model, p, ctx);
        Dataset ds = ctx.dataset(PipelineContext.CALIBRATION).orElseThrow();
        int n = Math.min(p.integer("stat_subset_size").orElse(300), ds.size());
        Statistics s = ctx.collect(model, ds, ctx.subset(ds, n, 0, false), algo.statistics(model, p, ctx));
        return algo.apply(model, p, s, ctx);
    }

    static Model quantize(Model model, Map<String, Object> values) {
        try (HostContext ctx = context(new TensorDataset("input", calibration()))) {
            return run(new MinMaxQuantization(), model, values, ctx);
        }
    }

    /** Top-1 accuracy on the 10k test split, computed from the engine's logits. */
    static double top1(Model model) {
        Tensor x = testImages();
        long[] y = testLabels();
        int correct = 0, n = (int) x.dim(0);
        try (Session s = ENGINE.open(model, SessionOptions.defaults().withThreads(2))) {
            for (int from = 0; from < n; from += 1000) {
                int to = Math.min(n, from + 1000);
                Tensor logits = s.run(Map.of("input", x.slice0(from, to))).get("logits");
                float[] v = logits.floats();
                int k = (int) logits.dim(1);
                for (int i = 0; i < to - from; i++) {
                    int best = 0;
                    for (int j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
                    if (best == y[from + i]) correct++;
                }
            }
        }
        return correct / (double) n;
    }

    /** Op type counts of the graph ONNX Runtime actually runs (its optimized-model dump). */
    static Map<String, Integer> optimizedOps(Model model) throws Exception {
        Path dir = Files.createTempDirectory("ptq-opt");
        Path f = dir.resolve("optimized.onnx");
        try (Session s = ENGINE.open(model, SessionOptions.defaults().withThreads(1).withOptimizedModelPath(f))) {
            // opening is enough: ORT writes the optimized graph at session creation
        }
        Map<String, Integer> counts = new TreeMap<>();
        for (Node n : OnnxIO.read(f).graph().nodes()) counts.merge(n.opType(), 1, Integer::sum);
        Files.deleteIfExists(f);
        Files.deleteIfExists(dir);
        return counts;
    }
}
