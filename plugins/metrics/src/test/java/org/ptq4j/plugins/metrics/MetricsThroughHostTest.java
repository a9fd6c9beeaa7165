package org.ptq4j.plugins.metrics;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

/** The metrics as the host finds and runs them: pf4j discovery, HostContext.evaluate with real models. */
class MetricsThroughHostTest {
    static final Tensor X = TestAssets.npy("fmnist-test-1k.npy").slice0(0, 300);
    static final long[] Y = TestAssets.npy("fmnist-test-1k-labels.npy").longs();

    /** Rows of the normalised test images with their labels (the data plugins are not dependencies of this module). */
    static final Dataset ROWS = new Dataset() {
        @Override public int size() { return (int) X.dim(0); }
        @Override public boolean annotated() { return true; }
        @Override public Sample get(int i) {
            return new Sample(i, "row " + i, Map.of("input", X.slice0(i, i + 1).reshape(1, 28, 28)), Tensor.ofLongs(new long[0], new long[]{Y[i]}));
        }
    };

    static Metric metric(String type, Model model) {
        MetricContext mc = new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return model.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        };
        return Registry.fromClasspath().metric(type).orElseThrow().create(Params.empty(), mc);
    }

    static Evaluation evaluate(Model model, Model reference, String type) {
        try (HostContext ctx = HostContext.builder().engine(new OrtEngine()).threads(1).batchSize(64).build()) {
            return ctx.evaluate(model, reference, metric(type, model), ROWS, IntStream.range(0, ROWS.size()).toArray());
        }
    }

    @Test
    void allMetricTypesAreDiscovered() {
        assertTrue(Registry.fromClasspath().metrics().keySet().containsAll(Set.of("accuracy", "top_k", "cosine", "sqnr", "mse", "top1_agreement")));
    }

    @Test
    void theSameWeightsInAnotherGraphAreFaithful() {
        // fmnist_mlp_matmul has fmnist_mlp's weights as Reshape + MatMul + Add: only float rounding differs
        Model gemm = OnnxIO.read(TestAssets.model("fmnist_mlp.onnx")), matmul = OnnxIO.read(TestAssets.model("fmnist_mlp_matmul.onnx"));
        assertEquals(1.0, evaluate(matmul, gemm, "top1_agreement").value());
        assertEquals(1.0, evaluate(matmul, gemm, "cosine").value(), 1e-6);
        assertTrue(evaluate(matmul, gemm, "sqnr").value() > 80, "float rounding only: SQNR far above any INT8 model's");
        assertTrue(evaluate(matmul, gemm, "mse").value() < 1e-8);
    }

    @Test
    void twoDifferentModelsAreNotAndPerSampleValuesFollowTheIndices() {
        Model cnn = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx")), mlp = OnnxIO.read(TestAssets.model("fmnist_mlp.onnx"));
        Evaluation agree = evaluate(mlp, cnn, "top1_agreement"), cos = evaluate(mlp, cnn, "cosine"), sqnr = evaluate(mlp, cnn, "sqnr");
        assertTrue(agree.value() > 0.75 && agree.value() < 1, "agreement " + agree.value());
        assertTrue(cos.value() < 0.999, "cosine " + cos.value());
        assertTrue(sqnr.value() < 40, "sqnr " + sqnr.value());
        assertEquals(300, cos.perSample().length);
        // per-sample values follow the evaluated indices: compare with both models run directly on all rows at once
        float[] a, b;
        try (var sa = new OrtEngine().open(mlp); var sb = new OrtEngine().open(cnn)) {
            a = sa.run(Map.of("input", X)).get("logits").floats();
            b = sb.run(Map.of("input", X)).get("logits").floats();
        }
        for (int i = 0; i < 300; i++) {
            double dot = 0, aa = 0, bb = 0;
            for (int j = i * 10; j < i * 10 + 10; j++) { dot += a[j] * b[j]; aa += a[j] * a[j]; bb += b[j] * b[j]; }
            assertEquals(dot / Math.sqrt(aa * bb), cos.perSample()[i], 1e-5, "sample " + i);
        }
        Evaluation acc = evaluate(cnn, null, "accuracy"), top5 = evaluate(cnn, null, "top_k");
        assertEquals(Arrays.stream(acc.perSample()).sum() / 300, acc.value(), 1e-12);
        assertTrue(acc.value() > 0.85 && top5.value() > acc.value() && top5.value() <= 1, acc.value() + " / " + top5.value());
    }
}
