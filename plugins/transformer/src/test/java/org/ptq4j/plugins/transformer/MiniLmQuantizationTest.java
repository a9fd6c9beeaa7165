package org.ptq4j.plugins.transformer;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The whole path on the real all-MiniLM-L6-v2: tokenize real sentences, quantize, evaluate the
 * mean-pooled embedding cosine vs FP32 in ONNX Runtime. Lean for CI: 160 evaluation lines
 * (lines 1001.. of sentences-2k.txt, never used for calibration), 64 calibration lines, padded to
 * the longest selected line (the benchmark, {@link MiniLmBenchmark}, uses 1000 lines at 128 tokens).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MiniLmQuantizationTest {
    static final int MAX_LEN = 128;
    Model fp32;
    Dataset calib, eval;
    HostContext ctx;
    Metric metric;
    int[] evalIdx;
    double shippedCosine;

    @BeforeAll
    void setUp() {
        fp32 = MiniLm.fp32();
        calib = MiniLm.text(fp32, 0, 64, MAX_LEN, "longest");
        eval = MiniLm.text(fp32, 1000, 160, MAX_LEN, "longest");
        ctx = MiniLm.context(calib, 2, 16);
        evalIdx = ctx.subset(eval, eval.size(), 0, false);
        metric = new EmbeddingCosineMetricFactory().create(Params.empty(), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return fp32.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        });
        shippedCosine = cosine(MiniLm.shippedDynamic());
    }

    @AfterAll
    void tearDown() { eval.close(); calib.close(); ctx.close(); }

    double cosine(Model m) { return ctx.evaluate(m, fp32, metric, eval, evalIdx).value(); }

    Model run(String algorithm, Model in, Map<String, Object> params) {
        Algorithm a = ctx.algorithm(algorithm).orElseThrow();
        Params p = ctx.params(a, params);
        List<StatisticRequest> req = a.statistics(in, p, ctx);
        Statistics st = req.isEmpty() ? Statistics.EMPTY : ctx.collect(in, calib, ctx.subset(calib, calib.size(), 0, false), req);
        return a.apply(in, p, st, ctx);
    }

    @Test
    void metricIsOneForTheReferenceItselfAndBelowForTheShippedDynamicModel() {
        assertEquals(1.0, cosine(fp32), 1e-6);
        assertTrue(shippedCosine > 0.97 && shippedCosine < 0.9995, "shipped dynamic model cosine " + shippedCosine);
    }

    @Test
    void dynamicQuantizationMatchesOnnxRuntimesDynamicModel() throws Exception {
        Model q = run(DynamicQuantization.NAME, fp32, Map.of());
        Map<String, Integer> ops = MiniLm.opCounts(q);
        assertEquals(36, ops.get("MatMulInteger"), ops.toString());        // 6 layers x (Q, K, V, out, FFN1, FFN2)
        assertEquals(24, ops.get("DynamicQuantizeLinear"), ops.toString()); // Q, K, V share one
        assertEquals(12, ops.get("MatMul"), ops.toString());                // attention products stay float
        assertEquals(3, ops.get("DequantizeLinear"), ops.toString());       // word, position, token-type tables
        double c = cosine(q);
        System.out.printf("embedding cosine vs FP32 over %d lines: DynamicQuantization %.5f, shipped ORT dynamic %.5f%n", evalIdx.length, c, shippedCosine);
        assertEquals(shippedCosine, c, 0.005, "dynamic quantization fidelity within 0.005 of ONNX Runtime's");
        // the default target (ANY) keeps every MatMulInteger weight clear of int16 pair saturation on x86 without VNNI
        int worst = 0, fullWorst = 0;
        Model full = run(DynamicQuantization.NAME, fp32, Map.of("target_device", "CPU_VNNI"));
        for (Model m : List.of(q, full))
            for (org.ptq4j.spi.model.Node n : m.graph().nodes()) {
                if (!n.opType().equals("MatMulInteger")) continue;
                org.ptq4j.spi.tensor.Tensor w = m.graph().initializer(n.input(1)).orElseThrow();
                byte[] b = new byte[(int) w.numElements()];
                w.bytes().get(0, b);
                int pair = org.ptq4j.spi.quant.Int16Pairs.forMatMulWeight(w.shape(), -1).worstPairSum(b);
                if (m == q) worst = Math.max(worst, pair); else fullWorst = Math.max(fullWorst, pair);
            }
        double cFull = cosine(full);
        System.out.printf("DynamicQuantization worst same-sign pair |w_a|+|w_b|: default %d, CPU_VNNI %d; cosine default %.5f, CPU_VNNI %.5f%n", worst, fullWorst, c, cFull);
        assertTrue(worst <= 128, "default dynamic weights can saturate: worst pair " + worst);
        assertTrue(fullWorst > 128, "full 8-bit MiniLM weights have saturating pairs (else the check proves nothing)");
        assertTrue(c >= cFull - 0.001, "the safe grid costs at most 0.001 cosine: " + c + " vs " + cFull);
        assertTrue(c > 0.985, "per-channel dynamic cosine " + c);
        Path f = ctx.workDir().resolve("minilm-dyn.onnx");
        OnnxIO.write(q, f);
        long size = java.nio.file.Files.size(f);
        assertTrue(size < 26_000_000, "INT8 model file " + size + " bytes (FP32: 90 MB)");
        Model back = OnnxIO.read(f);
        assertEquals(List.of(), back.graph().nodes().stream().filter(n -> n.opType().equals("MatMul")
                && back.graph().isInitializer(n.input(1))).toList(), "no float weight MatMul left");
    }

    @Test
    void ignoredLayersStayFloatAndPerTensorIsAnOption() {
        String ffn = "/encoder/layer.5/output/dense/MatMul";
        assertTrue(fp32.graph().node(ffn).isPresent(), "MiniLM node names changed?");
        Model q = run(DynamicQuantization.NAME, fp32, Map.of("ignored", Map.of("names", List.of(ffn)), "quantize_embeddings", false,
                "per_channel", false));
        Map<String, Integer> ops = MiniLm.opCounts(q);
        assertEquals(35, ops.get("MatMulInteger"), ops.toString());
        assertEquals("MatMul", q.graph().node(ffn).orElseThrow().opType());
        assertNull(ops.get("DequantizeLinear"), "embedding tables kept float");
        q.graph().initializers().values().stream().filter(t -> t.dtype() == org.ptq4j.spi.tensor.DType.INT8)
                .forEach(t -> assertTrue(t.rank() != 1, "per-tensor: no per-column scales or zero points"));
    }

    @Test
    void contribFormatFoldsBiasesAndKeepsFidelity() {
        Model q = run(DynamicQuantization.NAME, fp32, Map.of("format", "contrib"));
        Map<String, Integer> ops = MiniLm.opCounts(q);
        assertEquals(36, ops.get("DynamicQuantizeMatMul"), ops.toString());
        assertEquals(fp32.graph().nodes().stream().filter(n -> n.opType().equals("Add")).count() - 36, (long) ops.get("Add"), "36 bias Adds folded");
        assertEquals(shippedCosine, cosine(q), 0.005);
    }

    @Test
    void smoothQuantKeepsTheFloatFunctionAndFlattensActivationRanges() {
        Model s = run(SmoothQuant.NAME, fp32, Map.of("alpha", 0.5));
        assertEquals(MiniLm.opCounts(fp32).get("Mul") + 24, MiniLm.opCounts(s).get("Mul"), "one Mul per smoothed activation (24)");
        assertEquals(1.0, cosine(s), 1e-4, "smoothing alone is an identity up to float rounding");
        // alpha 0.5 balances each input channel: max|x'_k| == max_n |W'[k, n]| on the calibration data
        List<org.ptq4j.spi.model.Node> smoothMuls = s.graph().nodes().stream().filter(n -> n.name().endsWith("_SmoothQuant_Mul")).toList();
        assertEquals(24, smoothMuls.size());
        List<StatisticRequest> req = smoothMuls.stream().map(n -> new StatisticRequest(n.output(0), SmoothQuant.SPEC)).toList();
        Statistics after = ctx.collect(s, calib, ctx.subset(calib, calib.size(), 0, false), req);
        for (org.ptq4j.spi.model.Node mul : smoothMuls) {
            float[] act = after.get(mul.output(0), SmoothQuant.SPEC);
            float[] wMax = new float[act.length];
            for (org.ptq4j.spi.model.Node mm : s.graph().consumers(mul.output(0))) {
                var w = s.graph().initializer(mm.input(1)).orElseThrow();
                float[] v = w.floats();
                int cols = (int) w.dim(1);
                for (int i = 0; i < v.length; i++) wMax[i / cols] = Math.max(wMax[i / cols], Math.abs(v[i]));
            }
            for (int k = 0; k < act.length; k++) assertEquals(wMax[k], act[k], 2e-3 * wMax[k] + 1e-6, mul.output(0) + " channel " + k);
        }
        double c = cosine(run(DynamicQuantization.NAME, s, Map.of()));
        System.out.printf("SmoothQuant(0.5) + DynamicQuantization cosine %.5f%n", c);
        assertTrue(c > 0.97, "SmoothQuant + dynamic cosine " + c);
    }
}
