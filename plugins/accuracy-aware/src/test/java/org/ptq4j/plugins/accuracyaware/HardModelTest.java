package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * AccuracyAwareQuantization on a hard model: fmnist_cnn with outlier activation channels planted by a
 * function-preserving rewrite (two output channels of each Conv x80, the next Conv's matching input
 * channels /80). Validated on a seeded half of the 10k test split, confirmed on the other half.
 */
class HardModelTest {
    static final String[][] PAIRS = {{"/features/features.0/Conv", "/features/features.4/Conv"}, {"/features/features.4/Conv", "/features/features.8/Conv"}};

    static Model planted() {
        Model m = Fixture.model("fmnist_cnn.onnx").copy();
        Graph g = m.graph();
        for (String[] p : PAIRS) {
            var a = g.node(p[0]).orElseThrow();
            var b = g.node(p[1]).orElseThrow();
            for (int c : new int[]{3, 11}) {
                scale(g, a.input(1), c, true, 80);
                scale(g, a.input(2), c, true, 80);
                scale(g, b.input(1), c, false, 1 / 80.0);
            }
        }
        g.touch();
        return m;
    }

    /** Multiplies output channel c (axis 0) or input channel c (axis 1) of a Conv weight / bias by f. */
    private static void scale(Graph g, String name, int c, boolean out, double f) {
        Tensor t = g.initializer(name).orElseThrow();
        float[] v = t.floats();
        long[] s = t.shape();
        long inner = 1;
        for (int i = out ? 1 : 2; i < s.length; i++) inner *= s[i];
        for (int i = 0; i < v.length; i++) {
            long ch = out ? i / inner : (i / inner) % s[1];
            if (ch == c) v[i] = (float) (v[i] * f);
        }
        g.initializers().put(name, Tensor.ofFloats(s, v));
    }

    static HostContext context(Model m) {
        Map<String, Object> p = new HashMap<>();
        p.put("path", TestAssets.data("fmnist-test-10k-u8.npy"));
        p.put("labels", TestAssets.data("fmnist-test-10k-labels.npy"));
        p.put("scale", 1 / 255.0);
        p.put("mean", List.of(0.2860));
        p.put("std", List.of(0.3530));
        var f = Fixture.REGISTRY.dataset("numpy").orElseThrow();
        var test10k = f.open(org.ptq4j.host.run.ParamDefaults.bind(f.parameters(), p), new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return m.graph().feedInputs(); }
            @Override public Path baseDir() { return TestAssets.shared(); }
        });
        return HostContext.builder().engine(Fixture.ENGINE).registry(Fixture.REGISTRY)
                .dataset(PipelineContext.CALIBRATION, Fixture.numpy(m, Fixture.CALIB, null))
                .dataset(PipelineContext.VALIDATION, test10k).metric(Fixture.accuracy(m)).threads(1).batchSize(500).build();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> run(Model m, Map<String, Object> baseParams) {
        try (HostContext ctx = context(m)) {
            var aaq = new AccuracyAwareQuantization();
            Params p = Fixture.params(ctx, Map.of("maximal_drop", 0.003, "holdout_ratio", 0.5, "base_params", baseParams));
            Model t = aaq.transform(m, p, ctx);                         // as the pipeline does: data-free rewrites first
            try {
                aaq.apply(t, p, Statistics.EMPTY, ctx);
            } catch (org.ptq4j.spi.BudgetNotMetException e) {
                // reported below
            }
            return (Map<String, Object>) ctx.report().asMap().get(AccuracyAwareQuantization.NAME);
        }
    }

    @Test
    void hardModelKeepsItsLayersInt8AndTheDropHoldsOnUnseenSamples() {
        Model fp32 = Fixture.model("fmnist_cnn.onnx"), hard = planted();
        assertEquals(Fixture.independentAccuracy(fp32), Fixture.independentAccuracy(hard), 1e-9, "planting is function-preserving");
        Map<String, Object> r = run(hard, Map.of());
        Map<String, Object> noCle = run(hard, Map.of("cross_layer_equalization", false));
        for (var e : List.of(Map.entry("default (CLE auto)", r), Map.entry("without CLE", noCle)))
            System.out.printf("AAQ on planted fmnist_cnn, %s: INT8 drop %.4f; FP32 layers %s of %s; search drop %.4f on %s samples, held-out drop %.4f on %s; full evaluations %s%n",
                    e.getKey(), (Double) e.getValue().get("int8_drop"), e.getValue().get("reverted_layers"), e.getValue().get("quantized_layers"),
                    (Double) e.getValue().get("final_drop"), e.getValue().get("search_samples"), (Double) e.getValue().get("holdout_drop"),
                    e.getValue().get("holdout_samples"), e.getValue().get("full_evaluations"));
        int layers = (Integer) r.get("quantized_layers");
        int reverted = ((List<?>) r.get("reverted_layers")).size();
        assertTrue(Boolean.TRUE.equals(r.get("budget_met")), r.toString());
        assertTrue(layers - reverted >= 0.9 * layers, "at least 90% of the layers stay INT8: " + r.get("reverted_layers"));
        assertTrue((Double) r.get("holdout_drop") <= 0.003, "drop on the held-out half: " + r.get("holdout_drop"));
        assertEquals(5000, r.get("holdout_samples"));
    }
}
