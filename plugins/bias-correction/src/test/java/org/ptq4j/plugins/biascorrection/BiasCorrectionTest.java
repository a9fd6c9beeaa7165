package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ptq4j.plugins.biascorrection.Fixtures.*;

/**
 * Both variants on fmnist_resnet with per-tensor weights (the case where weight quantization
 * shifts channel means most), judged on held-out data (the 1k test rows, not the calibration rows).
 */
class BiasCorrectionTest {
    static final Map<String, Object> PER_TENSOR = Map.of("weights", Map.of("granularity", "pertensor"));

    /**
     * The goal: mean |shift| of the corrected layers at most half, top-1 agreement with FP32
     * not lower, for either variant. Measured: BiasCorrection x0.13; FastBiasCorrection's default
     * estimator (two short passes of the quantized model, corrections solved on a linear model of how
     * a shift travels) x0.37, with {@code final_waves: 3} on top x0.30. NNCF's estimator (each layer
     * alone on the FP32 mean input) removes what a layer's own weights cause but not what it inherits
     * from earlier layers (Relu-rectified quantization noise), which dominates here (x0.83): for it the
     * test asserts a 10 % fall.
     */
    @ParameterizedTest
    @CsvSource({"BiasCorrection, '', 0.5", "FastBiasCorrection, '', 0.5", "FastBiasCorrection, final_waves=3, 0.5",
            "FastBiasCorrection, estimator=nncf, 0.9"})
    void reducesTheHeldOutMeanShiftWithoutLosingTop1Agreement(String algorithm, String params, double bound) {
        Map<String, Object> p = new java.util.HashMap<>();
        for (String kv : params.split(" ")) if (!kv.isBlank()) {
            String[] e = kv.split("=");
            p.put(e[0], e[1].matches("\\d+") ? (Object) Integer.valueOf(e[1]) : e[1]);
        }
        Run r = quantizeAndCorrect("fmnist_resnet.onnx", PER_TENSOR, algorithm, p);
        List<Layer> corrected = correctedLayers(r);
        assertTrue(corrected.size() >= 5, "expected most of the 11 layers corrected, got " + corrected.size());

        double before = meanAbsShift(r, r.quantized(), corrected, TEST_1K);
        double after = meanAbsShift(r, r.corrected(), corrected, TEST_1K);
        int[] fp = top1(r.fp32(), TEST_1K);
        double agreeQ = agreement(top1(r.quantized(), TEST_1K), fp), agreeC = agreement(top1(r.corrected(), TEST_1K), fp);
        System.out.printf("%s %s resnet per-tensor weights: %d layers corrected, held-out mean|shift| %.5f -> %.5f (x%.3f), top-1 agreement with FP32 %.4f -> %.4f%n",
                algorithm, p, corrected.size(), before, after, after / before, agreeQ, agreeC);
        if (Boolean.getBoolean("bc.debug"))
            for (Layer l : corrected) System.out.printf("  %s held-out %.5f -> %.5f%n", l.name(), meanAbsShift(r, r.quantized(), List.of(l), TEST_1K), meanAbsShift(r, r.corrected(), List.of(l), TEST_1K));
        assertTrue(after <= bound * before, "mean |shift| " + before + " -> " + after + " is not at most x" + bound);
        assertTrue(agreeC >= agreeQ, "top-1 agreement fell: " + agreeQ + " -> " + agreeC);

        long fused = fusedIntegerOps(r.quantized(), r.ctx());
        assertTrue(fused >= 10, "quantized resnet runs " + fused + " integer kernels");
        assertEquals(fused, fusedIntegerOps(r.corrected(), r.ctx()), "integer kernels lost by the correction");

        // the run summary has one row per layer and measurement (passes, final waves) with the shift before and after
        List<?> rows = (List<?>) asMap(r.ctx().report().asMap().get(algorithm)).get("layers");
        assertEquals(corrected.size(), rows.stream().filter(o -> asMap(o).get("status").toString().startsWith("corrected")).map(o -> asMap(o).get("layer")).distinct().count());
        for (Object o : rows) {
            Map<String, Object> row = asMap(o);
            if (row.get("status").toString().startsWith("corrected"))
                assertTrue((double) row.get("mean_abs_shift_after") < (double) row.get("mean_abs_shift_before"), row.toString());
        }
    }

    @Test
    void aLayerTheThresholdRefusesStaysAsItIsInEveryPass() {
        Run r = quantizeAndCorrect("fmnist_resnet.onnx", PER_TENSOR, FastBiasCorrection.NAME, Map.of("threshold", 1.0));
        List<?> rows = (List<?>) asMap(r.ctx().report().asMap().get(FastBiasCorrection.NAME)).get("layers");
        // refused in the first pass: never changed (a layer corrected in pass 1 may still be refused a further step in pass 2)
        List<Object> refused = rows.stream().map(o -> asMap(o)).filter(m -> m.get("status").toString().startsWith("skipped") && Integer.valueOf(1).equals(m.get("pass")))
                .map(m -> m.get("layer")).toList();
        assertFalse(refused.isEmpty(), "expected a layer over a relative bias change of 1: " + rows);
        for (Layer l : Layer.find(r.fp32().graph(), true)) {
            if (!refused.contains(l.name())) continue;
            assertArrayEquals(QuantizedLayer.find(l, r.quantized().graph()).bias(r.quantized().graph()),
                    QuantizedLayer.find(l, r.corrected().graph()).bias(r.corrected().graph()), l.name());
            // refused in the first pass, not tried again in the second
            assertEquals(1, rows.stream().filter(o -> asMap(o).get("layer").equals(l.name())).count(), l.name());
        }
        assertFalse(correctedLayers(r).isEmpty(), "the others are corrected");
    }

    @Test
    void stepsAreFoundByNameAndNeedTheQuantizersAnnotation() {
        HostContext ctx = context(CALIB);
        for (String name : List.of(FastBiasCorrection.NAME, BiasCorrection.NAME)) {
            Algorithm a = ctx.algorithm(name).orElseThrow(() -> new AssertionError(name + " not registered"));
            Model fp32 = model("fmnist_cnn.onnx");
            PtqException e = assertThrows(PtqException.class, () -> a.apply(fp32, ctx.params(a, Map.of()), Statistics.EMPTY, ctx));
            assertTrue(e.getMessage().contains("ptq.fp32_model"), e.getMessage());
        }
    }

    @Test
    void fastVariantCollectsItsOwnStatisticsWhenRunAsAStepWithoutThem() {
        HostContext ctx = context(CALIB);
        Model fp32 = model("fmnist_cnn.onnx");
        Algorithm mm = ctx.algorithm("MinMaxQuantization").orElseThrow();
        var mp = ctx.params(mm, PER_TENSOR);
        var calib = ctx.dataset("calibration").orElseThrow();
        Model q = mm.apply(fp32, mp, ctx.collect(fp32, calib, ctx.subset(calib, 300, 0, false), mm.statistics(fp32, mp, ctx)), ctx);
        Algorithm fbc = ctx.algorithm(FastBiasCorrection.NAME).orElseThrow();
        Model c = fbc.apply(q, ctx.params(fbc, Map.of()), Statistics.EMPTY, ctx);
        Run r = new Run(fp32, q, c, ctx);
        assertFalse(correctedLayers(r).isEmpty(), "no layer corrected");
        double before = meanAbsShift(r, q, correctedLayers(r), TEST_1K), after = meanAbsShift(r, c, correctedLayers(r), TEST_1K);
        System.out.printf("FastBiasCorrection (own statistics) cnn per-tensor: held-out mean|shift| %.5f -> %.5f (x%.3f)%n", before, after, after / before);
        assertTrue(after < before, before + " -> " + after);
    }

    @Test
    void applyForAllNodesAddsAFusableBiasToLayersWithout() {
        // fmnist_cnn without its Conv biases: the quantized Convs have no bias to correct
        Model fp32 = model("fmnist_cnn.onnx");
        for (var n : fp32.graph().nodes()) if (n.opType().equals("Conv")) n.inputs().subList(2, n.inputs().size()).clear();
        fp32.graph().touch();
        fp32.graph().removeUnusedInitializers();
        HostContext ctx = context(CALIB);
        Algorithm mm = ctx.algorithm("MinMaxQuantization").orElseThrow(), fbc = ctx.algorithm(FastBiasCorrection.NAME).orElseThrow();
        var mp = ctx.params(mm, PER_TENSOR);
        var bp = ctx.params(fbc, Map.of("apply_for_all_nodes", true));
        var calib = ctx.dataset("calibration").orElseThrow();
        List<org.ptq4j.spi.stats.StatisticRequest> req = new ArrayList<>(mm.statistics(fp32, mp, ctx));
        req.addAll(fbc.statistics(fp32, bp, ctx));
        Statistics st = ctx.collect(fp32, calib, ctx.subset(calib, 300, 0, false), req);
        Model q = mm.apply(fp32, mp, st, ctx);
        Model c = fbc.apply(q, bp, st, ctx);
        List<Layer> convs = Layer.find(fp32.graph(), false).stream().filter(l -> l.opType().equals("Conv")).toList();
        for (Layer l : convs) {
            QuantizedLayer ql = QuantizedLayer.find(l, c.graph());
            assertTrue(ql.hasBias(), l.name() + " got no bias");
            var dq = c.graph().producer(ql.biasTensor());
            assertEquals("DequantizeLinear", dq.opType(), "added bias of " + l.name() + " should be INT32 behind DequantizeLinear");
        }
        // ONNX Runtime still fuses the layers into integer kernels, the added biases included
        assertEquals(fusedIntegerOps(q, ctx), fusedIntegerOps(c, ctx), "integer ops in ONNX Runtime's optimized graph");
        assertTrue(fusedIntegerOps(c, ctx) >= convs.size());
        Run r = new Run(fp32, q, c, ctx);
        double before = meanAbsShift(r, q, convs, TEST_1K), after = meanAbsShift(r, c, convs, TEST_1K);
        System.out.printf("apply_for_all_nodes cnn without conv bias: held-out mean|shift| %.5f -> %.5f%n", before, after);
        assertTrue(after < before, before + " -> " + after);
    }

    @ParameterizedTest
    @ValueSource(strings = {FastBiasCorrection.NAME, BiasCorrection.NAME})
    void runsInsideDefaultQuantizationFromItsStatisticsPass(String algorithm) {
        HostContext ctx = context(CALIB);
        Model fp32 = model("fmnist_resnet.onnx");
        Algorithm dq = ctx.algorithm("DefaultQuantization").orElseThrow();
        var p = ctx.params(dq, algorithm.equals(BiasCorrection.NAME)
                ? Map.of("weights", Map.of("granularity", "pertensor"), "fast_bias_correction", false, "bias_correction", true)
                : PER_TENSOR);
        var calib = ctx.dataset("calibration").orElseThrow();
        var requests = dq.statistics(fp32, p, ctx);
        assertTrue(requests.stream().anyMatch(r -> r.spec() instanceof org.ptq4j.spi.stats.MeanSpec || r.spec() instanceof FirstSamplesMeanSpec),
                "no bias-correction statistics merged");
        Model c = dq.apply(fp32, p, ctx.collect(fp32, calib, ctx.subset(calib, 300, 0, false), requests), ctx);
        List<?> rows = (List<?>) asMap(ctx.report().asMap().get(algorithm)).get("layers");
        assertEquals(11, rows.stream().map(o -> asMap(o).get("layer")).distinct().count(), rows.toString());
        // the same bias edits as the step run on its own after MinMax
        Run alone = quantizeAndCorrect("fmnist_resnet.onnx", PER_TENSOR, algorithm, Map.of());
        for (Layer l : Layer.find(fp32.graph(), true))
            assertArrayEquals(QuantizedLayer.find(l, alone.corrected().graph()).bias(alone.corrected().graph()),
                    QuantizedLayer.find(l, c.graph()).bias(c.graph()), 1e-6f, l.name());
    }

    /** Layers whose bias the correction changed or added. */
    static List<Layer> correctedLayers(Run r) {
        List<Layer> out = new ArrayList<>();
        for (Layer l : Layer.find(r.fp32().graph(), false)) {
            QuantizedLayer q = QuantizedLayer.find(l, r.quantized().graph()), c = QuantizedLayer.find(l, r.corrected().graph());
            if (q == null || c == null) continue;
            float[] bq = q.bias(r.quantized().graph()), bc = c.bias(r.corrected().graph());
            if (bc != null && (bq == null || !Arrays.equals(bq, bc))) out.add(l);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> asMap(Object o) { return (Map<String, Object>) o; }
}
