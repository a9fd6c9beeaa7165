package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Real plugins, real ONNX Runtime, real Fashion-MNIST data: the environment of these tests. */
final class Fixture {
    static final Registry REGISTRY = Registry.fromClasspath();
    static final OrtEngine ENGINE = new OrtEngine();
    static final String CALIB = "fmnist-calib-300.npy", TEST = "fmnist-test-1k.npy", LABELS = "fmnist-test-1k-labels.npy";

    private Fixture() {}

    static Model model(String file) { return OnnxIO.read(TestAssets.model(file)); }

    /**
     * A pipeline YAML as a user writes it: fmnist_resnet, the calibration set, the 1k annotated test set,
     * top-1 accuracy, and one AccuracyAwareQuantization step with {@code params} (YAML lines, indented 6).
     */
    static String aaqPipeline(String output, String params) {
        return """
                model: %s
                output: %s
                engine: {threads: 1, batch_size: 100}
                datasets:
                  calibration: {type: numpy, path: %s}
                  validation: {type: numpy, path: %s, labels: %s}
                metric: {type: accuracy}
                pipeline:
                  - algorithm: AccuracyAwareQuantization
                    params:
                """.formatted(TestAssets.model("fmnist_resnet.onnx"), output, TestAssets.data(CALIB), TestAssets.data(TEST), TestAssets.data(LABELS))
                + params.indent(6);
    }

    static Dataset numpy(Model m, String data, String labels) {
        Map<String, Object> p = new HashMap<>();
        p.put("path", TestAssets.data(data));
        if (labels != null) p.put("labels", TestAssets.data(labels));
        var f = REGISTRY.dataset("numpy").orElseThrow();
        return f.open(org.ptq4j.host.run.ParamDefaults.bind(f.parameters(), p), new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return m.graph().feedInputs(); }
            @Override public Path baseDir() { return TestAssets.shared(); }
        });
    }

    static Metric accuracy(Model m) {
        var f = REGISTRY.metric("accuracy").orElseThrow();
        return f.create(org.ptq4j.host.run.ParamDefaults.bind(f.parameters(), Map.of()), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return m.graph().outputs(); }
            @Override public Path baseDir() { return TestAssets.shared(); }
        });
    }

    /** A context with the calibration set, the 1k annotated test set as validation, and top-1 accuracy. */
    static HostContext context(Model m, boolean withValidation) {
        return HostContext.builder().engine(ENGINE).registry(REGISTRY)
                .dataset(PipelineContext.CALIBRATION, numpy(m, CALIB, null))
                .dataset(PipelineContext.VALIDATION, withValidation ? numpy(m, TEST, LABELS) : null)
                .metric(accuracy(m)).threads(1).batchSize(100).build();
    }

    static Params params(PipelineContext ctx, Map<String, Object> values) {
        return ctx.params(new AccuracyAwareQuantization(), values);
    }

    /**
     * Top-1 accuracy of {@code model} on the 1k test set computed here, without the metric plugin
     * or the host's evaluation: argmax of the logits against the labels.
     */
    static double independentAccuracy(Model model) {
        Tensor x = TestAssets.npy(TEST);
        long[] labels = TestAssets.npy(LABELS).longs();
        int n = (int) x.dim(0), per = (int) (x.numElements() / n), bs = 250, correct = 0;
        FloatBuffer all = x.floatView();
        String in = model.graph().feedInputs().get(0).name();
        try (Session s = ENGINE.open(model, SessionOptions.defaults().withThreads(1))) {
            for (int b = 0; b < n; b += bs) {
                int k = Math.min(bs, n - b);
                float[] chunk = new float[k * per];
                all.position(b * per);
                all.get(chunk);
                long[] shape = x.shape();
                shape[0] = k;
                float[] logits = s.run(Map.of(in, Tensor.ofFloats(shape, chunk))).values().iterator().next().floats();
                int classes = logits.length / k;
                for (int i = 0; i < k; i++) {
                    int arg = 0;
                    for (int c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + arg]) arg = c;
                    if (arg == labels[b + i]) correct++;
                }
            }
        }
        return (double) correct / n;
    }

    /** Op type counts of the graph ONNX Runtime actually runs for {@code model} (its optimized graph). */
    static Map<String, Integer> optimizedOps(Model model, Path tmp) {
        Path out = tmp.resolve("optimized-" + System.nanoTime() + ".onnx");
        try (Session s = ENGINE.open(model, SessionOptions.defaults().withThreads(1).withOptimizedModelPath(out))) {
            s.inputs();
        }
        Map<String, Integer> counts = new HashMap<>();
        for (Node n : OnnxIO.read(out).graph().nodes()) counts.merge(n.opType(), 1, Integer::sum);
        return counts;
    }

    static int count(Map<String, Integer> ops, String... types) {
        int c = 0;
        for (String t : types) c += ops.getOrDefault(t, 0);
        return c;
    }
}
