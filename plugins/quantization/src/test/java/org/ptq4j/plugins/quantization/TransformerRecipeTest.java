package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.plugins.transformer.MiniLm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code model_type: transformer} on the real all-MiniLM-L6-v2, the whole path: tokenize
 * sentences-2k.txt, calibrate on lines 0..299, quantize (opset 11 -> 13, MatMul+bias -> QGemm,
 * int8 embedding tables), evaluate the mean-pooled embedding cosine vs FP32 on 200 held-out lines
 * (1000..1199) next to ONNX Runtime's shipped dynamic model. Lean for CI: lines are padded to
 * the longest in each batch, not to 128 ({@link MiniLmBenchmark} measures 1000 lines and speed).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TransformerRecipeTest {
    Model fp32;
    Dataset calib, eval;
    HostContext ctx;
    Metric metric;
    int[] evalIdx;

    @BeforeAll
    void setUp() {
        fp32 = MiniLm.fp32();
        calib = MiniLm.text(fp32, 0, 300, 128, "longest");
        eval = MiniLm.text(fp32, 1000, 200, 128, "longest");
        ctx = MiniLm.context(calib, 2, 16);
        evalIdx = ctx.subset(eval, eval.size(), 0, false);
        metric = MiniLm.cosine(fp32);
    }

    @AfterAll
    void tearDown() { eval.close(); calib.close(); ctx.close(); }

    double cosine(Model m) { return ctx.evaluate(m, fp32, metric, eval, evalIdx).value(); }

    @Test
    void staticRecipeIsAtLeastAsFaithfulAsOnnxRuntimesDynamicModelAndFusesToQGemm() throws Exception {
        assertEquals(11, fp32.opset(), "the test model is opset 11: the recipe must upgrade it");
        Model q = MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib, Map.of("model_type", "transformer"));
        assertEquals(13, q.opset());
        assertEquals(36, MiniLm.count(q, "Gemm"), "6 layers x (Q, K, V, out, FFN1, FFN2)");
        assertEquals(12, MiniLm.count(q, "MatMul"), "attention's two activation-activation MatMuls per layer");
        String rep = String.valueOf(ctx.report().asMap().get(DefaultQuantization.SECTION));
        assertTrue(rep.contains("opset 11 -> 13") && rep.contains("Unsqueeze"), rep);
        assertTrue(rep.contains("36 bias Adds folded"), rep);
        assertTrue(rep.contains("24 run-time shape computations replaced"), rep);
        assertTrue(rep.contains("6 erf GELUs computed in tanh form"), rep);

        double shipped = cosine(MiniLm.shippedDynamic()), c = cosine(q);
        System.out.printf("MiniLM cosine vs FP32, %d held-out lines: static transformer recipe %.5f, shipped ORT dynamic %.5f%n", evalIdx.length, c, shipped);
        assertTrue(c >= shipped - 0.002, "static " + c + " vs shipped dynamic " + shipped);

        Path f = ctx.workDir().resolve("minilm-static.onnx"), opt = ctx.workDir().resolve("minilm-static-opt.onnx");
        OnnxIO.write(q, f);
        assertTrue(Files.size(f) < 26_000_000, "int8 weights and embedding tables: " + Files.size(f) + " bytes (FP32 90 MB)");
        new org.ptq4j.host.engine.OrtEngine().open(OnnxIO.read(f), SessionOptions.defaults().withThreads(1).withOptimizedModelPath(opt)).close();
        Model o = OnnxIO.read(opt);
        Map<String, Integer> ops = new java.util.TreeMap<>();
        o.graph().nodes().forEach(n -> ops.merge(n.opType(), 1, Integer::sum));
        System.out.println("ORT's optimized static MiniLM: " + ops);
        assertEquals(36, MiniLm.count(o, "QGemm"), "ORT fuses every weight layer with its bias into QGemm");
        assertEquals(List.of(), MiniLm.floatWeightMatMuls(o), "no float weight MatMul/Gemm left in ORT's graph");
        assertNull(ops.get("DequantizeLinear"), "every DQ fused (Shape reads the uint8 tensor, embeddings dequantize by Mul)");
        assertEquals(24, ops.get("QuantizeLinear"), "one Q per float-produced activation: 6 x (attention input, probabilities, FFN input, GELU output)");
        assertEquals(6, ops.get("QLinearMatMul"), "attention probabilities x values in integer arithmetic (its output feeds the output QGemm)");
        assertEquals(6, ops.get("FusedMatMul"), "attention scores stay float: ORT's FusedMatMul absorbs the 1/sqrt(d) scale");
        assertEquals(6, ops.get("FastGelu"), "the tanh GELU is fused into FastGelu");
        assertNull(ops.get("Gelu"));
        assertTrue(ops.getOrDefault("Shape", 0) <= 19 && ops.getOrDefault("Concat", 0) == 0, "run-time shape computations left: " + ops);
    }

    /**
     * The recipe's float clean-ups on the FP32 model: constant Reshape shapes are exact; the tanh GELU
     * moves the embeddings far less than quantization does (cosine 1 - 1e-6 vs 1 - 7e-3).
     */
    @Test
    void floatCleanUpsKeepTheFunction() {
        Model m = fp32.copy();
        org.ptq4j.spi.model.transform.OpsetUpgrade.Result up = org.ptq4j.spi.model.transform.OpsetUpgrade.toOpset13(m);
        m = up.model();
        int nodes = m.graph().nodes().size();
        assertEquals(24, TransformerGraph.constantReshapes(m), "6 layers x (Q, K, V head split, context merge)");
        assertTrue(m.graph().nodes().size() <= nodes - 24 * 5, "Shape/Gather/Unsqueeze/Concat subgraphs removed: " + nodes + " -> " + m.graph().nodes().size());
        assertEquals(0, TransformerGraph.constantReshapes(m), "nothing left");
        double exact = cosine(m);
        assertEquals(1.0, exact, 1e-7, "0 in a Reshape shape copies the input dimension the subgraph computed");
        assertEquals(6, TransformerGraph.tanhGelu(m));
        assertEquals(0, MiniLm.count(m, "Erf"));
        double tanh = cosine(m);
        System.out.printf("MiniLM FP32 with tanh GELU: cosine vs erf GELU %.7f (%d lines)%n", tanh, evalIdx.length);
        assertTrue(tanh > 0.99999 && tanh < 1.0, "tanh GELU vs erf GELU cosine " + tanh);
    }

    @Test
    void gemmRewriteIsExactInFloat() {
        GemmRewrite.Result r = GemmRewrite.apply(fp32);
        assertEquals(36, r.rewritten());
        assertEquals(36, r.biasesFolded());
        assertEquals(0, MiniLm.count(r.model(), "MatMul") - 12, "only the 12 attention MatMuls stay MatMul");
        assertEquals(1.0, cosine(r.model()), 1e-5, "Reshape -> Gemm -> Reshape computes the same function");
        assertSame(r.model(), GemmRewrite.apply(r.model()).model(), "nothing left to rewrite");
    }

    @Test
    void badModelTypeNamesTheKey() {
        var e = assertThrows(org.ptq4j.spi.PtqException.class, () -> QuantConfig.from(new org.ptq4j.spi.param.Params(Map.of("model_type", "cnn")), "MinMaxQuantization"));
        assertTrue(e.getMessage().contains("MinMaxQuantization.model_type") && e.getMessage().contains("'cnn'"), e.getMessage());
    }
}
