package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** MinMaxQuantization on the real FMNIST models, run and measured in ONNX Runtime. */
class MinMaxQuantizationTest {
    private static final Map<String, Model> QUANTIZED = new HashMap<>();

    private static synchronized Model quantized(String file) {
        return QUANTIZED.computeIfAbsent(file, f -> Fixtures.quantize(Fixtures.fmnist(f), Map.of()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx"})
    void int8AccuracyWithinThreeTenthsOfAPointOfFp32(String file) {
        double fp32 = Fixtures.top1(Fixtures.fmnist(file));
        double int8 = Fixtures.top1(quantized(file));
        System.out.printf("%s: FP32 top-1 %.4f, INT8 top-1 %.4f (delta %+.4f)%n", file, fp32, int8, int8 - fp32);
        assertTrue(fp32 > 0.88, "FP32 reference accuracy " + fp32);
        assertTrue(int8 >= fp32 - 0.003, file + ": INT8 top-1 " + int8 + " vs FP32 " + fp32);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx"})
    void ortRunsNoFloatConvMatMulOrGemm(String file) throws Exception {
        Map<String, Integer> ops = Fixtures.optimizedOps(quantized(file));
        System.out.println(file + " optimized by ORT: " + ops);
        for (String op : List.of("Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm"))
            assertFalse(ops.containsKey(op), file + ": float " + op + " left in ORT's graph " + ops);
        int integer = 0;
        for (String op : List.of("QLinearConv", "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat", "QGemm", "DynamicQuantizeMatMul"))
            integer += ops.getOrDefault(op, 0);
        Model fp32 = Fixtures.fmnist(file);
        long layers = fp32.graph().nodes().stream().filter(n -> Set.of("Conv", "MatMul", "Gemm").contains(n.opType())).count();
        assertEquals(layers, integer, file + ": integer kernels " + ops);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_mlp.onnx"})
    void weightsStoredAsInt8ShrinkTheFile(String file) throws Exception {
        long fp32 = Files.size(TestAssets.model(file));
        long int8 = OnnxIO.toBytes(quantized(file)).length;
        System.out.printf("%s: %d -> %d bytes (%.1f %%)%n", file, fp32, int8, 100.0 * int8 / fp32);
        assertTrue(int8 < 0.31 * fp32, file + ": " + int8 + " bytes vs FP32 " + fp32);
    }

    @Test
    void quantizedLayersFollowTheConvention() {
        Model q = quantized("fmnist_resnet.onnx");
        Graph g = q.graph();
        List<String> layers = MinMaxQuantization.quantizedLayers(q);
        assertEquals(11, layers.size(), "10 Conv + 1 Gemm: " + layers);
        Model fp32 = (Model) q.annotations().get(MinMaxQuantization.FP32_MODEL);
        assertTrue(fp32.graph().nodes().stream().noneMatch(n -> n.opType().endsWith("QuantizeLinear")), "the FP32 model is recorded unquantized");
        assertEquals(fp32.graph().nodes().size(), Fixtures.fmnist("fmnist_resnet.onnx").graph().nodes().size());
        for (String name : layers) {
            Node n = g.node(name).orElseThrow(() -> new AssertionError("layer " + name + " lost its FP32 name"));
            assertTrue(fp32.graph().node(name).isPresent());
            Node wdq = g.producer(n.input(1));
            assertEquals("DequantizeLinear", wdq.opType());
            Tensor w = g.initializer(wdq.input(0)).orElseThrow();
            assertEquals(DType.INT8, w.dtype());
            long axis = n.opType().equals("Conv") ? 0 : n.attrLong("transB", 0) == 1 ? 0 : 1;
            assertEquals(axis, wdq.attrLong("axis", -1), name + " per-channel axis");
            Node xdq = g.producer(n.input(0));
            assertEquals("DequantizeLinear", xdq.opType());
            Node xq = g.producer(xdq.input(0));
            assertEquals("QuantizeLinear", xq.opType());
            assertEquals(DType.UINT8, g.initializer(xq.input(2)).orElseThrow().dtype());
            if (n.inputs().size() > 2) {
                Node bdq = g.producer(n.input(2));
                assertEquals("DequantizeLinear", bdq.opType(), name + " bias");
                assertEquals(DType.INT32, g.initializer(bdq.input(0)).orElseThrow().dtype());
                float sx = g.initializer(xq.input(1)).orElseThrow().floats()[0];
                float[] sw = g.initializer(wdq.input(1)).orElseThrow().floats();
                float[] sb = g.initializer(bdq.input(1)).orElseThrow().floats();
                for (int c = 0; c < sb.length; c++) assertEquals(sx * sw[c], sb[c], 1e-12f);
            }
        }
        // the tensor that feeds three consumers has one shared Q/DQ pair
        long qs = g.nodes().stream().filter(n -> n.opType().equals("QuantizeLinear")).map(n -> n.input(0)).distinct().count();
        assertEquals(g.nodes().stream().filter(n -> n.opType().equals("QuantizeLinear")).count(), qs, "one Q per tensor");
    }

    @Test
    void sameInputsGiveByteIdenticalModels() {
        Model fp32 = Fixtures.fmnist("fmnist_resnet.onnx");
        byte[] a = OnnxIO.toBytes(Fixtures.quantize(fp32, Map.of()));
        byte[] b = OnnxIO.toBytes(Fixtures.quantize(Fixtures.fmnist("fmnist_resnet.onnx"), Map.of()));
        assertArrayEquals(a, b);
    }

    @Test
    void presetsPickZeroPoints() {
        Model perf = quantized("fmnist_resnet.onnx");
        Model mixed = Fixtures.quantize(Fixtures.fmnist("fmnist_resnet.onnx"), Map.of("preset", "mixed"));
        List<Integer> perfZps = activationZeroPoints(perf), mixedZps = activationZeroPoints(mixed);
        assertTrue(perfZps.stream().allMatch(z -> z == 0 || z == 128), "performance: symmetric uint8 " + perfZps);
        assertTrue(perfZps.contains(0) && perfZps.contains(128), "post-Relu tensors zp 0, signed tensors zp 128: " + perfZps);
        assertTrue(mixedZps.stream().anyMatch(z -> z != 0 && z != 128), "mixed: asymmetric activations " + mixedZps);
        double acc = Fixtures.top1(mixed);
        assertTrue(acc >= Fixtures.top1(Fixtures.fmnist("fmnist_resnet.onnx")) - 0.003, "mixed accuracy " + acc);
    }

    private static List<Integer> activationZeroPoints(Model m) {
        List<Integer> r = new ArrayList<>();
        for (Node n : m.graph().nodes())
            if (n.opType().equals("QuantizeLinear")) r.add((int) m.graph().initializer(n.input(2)).orElseThrow().longs()[0]);
        return r;
    }

    @Test
    void ignoredScopeByNameRegexAndType() throws Exception {
        Model fp32 = Fixtures.fmnist("fmnist_resnet.onnx");
        List<String> convs = fp32.graph().nodes().stream().filter(n -> n.opType().equals("Conv")).map(Node::name).toList();
        String first = convs.get(0);
        Model q = Fixtures.quantize(fp32, Map.of("ignored", Map.of(
                "names", List.of(first), "patterns", List.of(".*branch_a.*"), "types", List.of("Gemm"))));
        List<String> layers = MinMaxQuantization.quantizedLayers(q);
        assertFalse(layers.contains(first));
        assertTrue(layers.stream().noneMatch(l -> l.contains("branch_a")), layers.toString());
        Node gemm = q.graph().nodes().stream().filter(n -> n.opType().equals("Gemm")).findFirst().orElseThrow();
        assertFalse(layers.contains(gemm.name()));
        assertTrue(q.graph().isInitializer(gemm.input(1)), "ignored Gemm keeps its float weight");
        Node c = q.graph().node(first).orElseThrow();
        assertTrue(q.graph().isInitializer(c.input(1)), "ignored Conv keeps its float weight");
        assertEquals(convs.size() - 2, layers.size(), layers.toString());
        assertTrue(Fixtures.top1(q) > 0.915);
        // and ONNX Runtime runs them in float too (branch_a's Conv sits between quantized layers)
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        assertEquals(convs.size() - 2, ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertFalse(ops.containsKey("QGemm"), ops.toString());
    }

    /**
     * An ignored Conv or Gemm between quantized layers stays FP32 in ONNX Runtime too. The Conv's input
     * is a DQ (through a MaxPool ORT moves the DQ past) and its output goes to a Q, which is what ORT's
     * WeightBiasQuantization looks for to quantize a float weight itself; the layer's own per-channel DQ
     * (same values) keeps ORT away from it. (The MLP's Gemm reads an unfused float Relu.)
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"fmnist_cnn.onnx, Conv, QLinearConv, 0.9043", "fmnist_mlp.onnx, Gemm, QGemm, 0.8853"})
    void anIgnoredLayerBetweenQuantizedLayersRunsInFloatInOrt(String file, String op, String integerOp, double fp32Top1) throws Exception {
        Model fp32 = Fixtures.fmnist(file);
        List<String> layers = fp32.graph().nodes().stream().filter(n -> n.opType().equals(op)).map(Node::name).toList();
        String middle = layers.get(1);
        Model q = Fixtures.quantize(fp32, Map.of("ignored", Map.of("names", List.of(middle))));
        Node c = q.graph().node(middle).orElseThrow();
        assertTrue(q.graph().isInitializer(c.input(1)), "the ignored layer keeps its float weight");
        Node dq = q.graph().producer(c.input(0));
        if (dq.opType().equals("DequantizeLinear"))
            assertTrue(q.graph().initializer(dq.input(1)).orElseThrow().numElements() > 1, "the ignored layer reads a per-channel DQ");
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        System.out.println(file + " with its middle " + op + " ignored, optimized by ORT: " + ops);
        assertEquals(layers.size() - 1, ops.getOrDefault(integerOp, 0), ops.toString());
        assertEquals(1, ops.getOrDefault(op, 0) + ops.getOrDefault("Fused" + op, 0), "the ignored layer runs in float: " + ops);
        double acc = Fixtures.top1(q);
        System.out.printf("%s, middle %s ignored: top-1 %.4f%n", file, op, acc);
        assertTrue(acc >= fp32Top1 - 0.003, "accuracy " + acc);
    }

    @Test
    void unmatchedIgnoredEntryIsAnErrorUnlessValidateIsOff() {
        Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
        PtqException e = assertThrows(PtqException.class, () -> Fixtures.quantize(fp32, Map.of("ignored", Map.of("names", List.of("no_such_node")))));
        assertTrue(e.getMessage().contains("no_such_node") && e.getMessage().contains("ignored"), e.getMessage());
        e = assertThrows(PtqException.class, () -> Fixtures.quantize(fp32, Map.of("ignored", Map.of("types", List.of("LSTM")))));
        assertTrue(e.getMessage().contains("LSTM"), e.getMessage());
        Model q = Fixtures.quantize(fp32, Map.of("ignored", Map.of("names", List.of("no_such_node"), "validate", false)));
        assertEquals(4, MinMaxQuantization.quantizedLayers(q).size());
    }

    @Test
    void badParametersNameTheKey() {
        Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
        PtqException e = assertThrows(PtqException.class, () -> Fixtures.quantize(fp32, Map.of("activations", Map.of("granularity", "perchannel"))));
        assertTrue(e.getMessage().contains("activations.granularity"), e.getMessage());
        e = assertThrows(PtqException.class, () -> Fixtures.quantize(fp32, Map.of("ignored", Map.of("patterns", List.of("([")))));
        assertTrue(e.getMessage().contains("ignored.patterns"), e.getMessage());
    }

    @Test
    void quantileEstimatorAndPerTensorWeightsStillAccurate() {
        Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
        Model q = Fixtures.quantize(fp32, Map.of(
                "activations", Map.of("range_estimator", Map.of("preset", "quantile", "outlier_prob", 1e-4)),
                "weights", Map.of("granularity", "pertensor")));
        for (Node n : q.graph().nodes())
            if (n.opType().equals("DequantizeLinear")) assertEquals(0, q.graph().initializer(n.input(1)).orElseThrow().rank(), "per-tensor scales");
        double acc = Fixtures.top1(q), ref = Fixtures.top1(fp32);
        System.out.printf("cnn quantile + per-tensor: %.4f (FP32 %.4f)%n", acc, ref);
        assertTrue(acc >= ref - 0.01, "accuracy " + acc);
    }

    @Test
    void reportSummarisesQuantizedAndSkippedNodes() {
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("input", Fixtures.calibration()))) {
            Fixtures.run(new MinMaxQuantization(), Fixtures.fmnist("fmnist_mlp_matmul.onnx"), Map.of(), ctx);
            Map<String, Object> r = ctx.report().asMap();
            String s = String.valueOf(r.get("MinMaxQuantization"));
            System.out.println(s);
            assertTrue(s.contains("quantized layers=3"), s);
            assertTrue(s.contains("/fc1/Add"), "bias Adds listed as skipped with a reason: " + s);
        }
    }

    @Test
    void defaultQuantizationWithoutBiasCorrectionPlugin() {
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("input", Fixtures.calibration()))) {
            Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
            Model q = Fixtures.run(new DefaultQuantization(), fp32, Map.of(), ctx);
            assertEquals(4, MinMaxQuantization.quantizedLayers(q).size());
            String s = String.valueOf(ctx.report().asMap().get("DefaultQuantization"));
            if (ctx.algorithm("FastBiasCorrection").isEmpty()) assertTrue(s.contains("not installed"), s);
            assertTrue(Fixtures.top1(q) >= Fixtures.top1(fp32) - 0.003);
            Model off = Fixtures.run(new DefaultQuantization(), fp32, Map.of("fast_bias_correction", false), ctx);
            assertArrayEquals(OnnxIO.toBytes(Fixtures.quantize(fp32, Map.of())), OnnxIO.toBytes(off), "without bias correction = MinMax");
        }
    }

    @Test
    void perChannelUpgradesOpset12To13AndFallsBackToPerTensorBelow11() {
        Model m = Fixtures.fmnist("fmnist_cnn.onnx");
        m.opsets().put("", 12L);   // the CNN's ops are the same in opset 12
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("input", Fixtures.calibration()))) {
            Model q = Fixtures.run(new MinMaxQuantization(), m, Map.of(), ctx);
            assertEquals(13, q.opset(), "upgraded for per-channel DequantizeLinear");
            long perChannel = q.graph().nodes().stream().filter(n -> n.opType().equals("DequantizeLinear") && n.attributes().containsKey("axis")
                    && q.graph().initializer(n.input(0)).orElseThrow().dtype() == org.ptq4j.spi.tensor.DType.INT8).count();
            assertEquals(4, perChannel, "per-channel weights of the 4 layers");
            String s = String.valueOf(ctx.report().asMap().get("MinMaxQuantization"));
            assertTrue(s.contains("opset 12 -> 13"), s);
        }
        m.opsets().put("", 10L);   // OpsetUpgrade starts at 11: per-tensor weights, said in the report
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("input", Fixtures.calibration()))) {
            Model q = Fixtures.run(new MinMaxQuantization(), m, Map.of(), ctx);
            assertEquals(10, q.opset());
            for (Node n : q.graph().nodes()) if (n.opType().equals("DequantizeLinear")) {
                assertFalse(n.attributes().containsKey("axis"), n.name());
                assertEquals(0, q.graph().initializer(n.input(1)).orElseThrow().rank(), n.name());
            }
            String s = String.valueOf(ctx.report().asMap().get("MinMaxQuantization"));
            assertTrue(s.contains("opset >= 13") && s.contains("upgrade"), s);
            assertTrue(Fixtures.top1(q) > 0.895);
        }
        m.opsets().put("", 9L);
        PtqException e = assertThrows(PtqException.class, () -> Fixtures.quantize(m, Map.of()));
        assertTrue(e.getMessage().contains("opset 9"), e.getMessage());
    }

    @Test
    void matmulToGemmTurnsMatMulPlusBiasIntoQGemm() throws Exception {
        Model fp32 = Fixtures.fmnist("fmnist_mlp_matmul.onnx");
        Model q = Fixtures.quantize(fp32, Map.of("matmul_to_gemm", true));
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        System.out.println("mlp_matmul, matmul_to_gemm, in ORT: " + ops);
        assertEquals(3, ops.get("QGemm"), ops.toString());
        assertNull(ops.get("MatMulIntegerToFloat"), ops.toString());
        assertNull(ops.get("MatMul"), ops.toString());
        assertNull(ops.get("Relu"), "2-D input: plain Gemms, no reshapes between Gemm and Relu, so the Relus fuse: " + ops);
        double acc = Fixtures.top1(q), ref = Fixtures.top1(fp32);
        System.out.printf("mlp_matmul top-1, matmul_to_gemm: %.4f (FP32 %.4f)%n", acc, ref);
        assertTrue(acc >= ref - 0.005, acc + " vs FP32 " + ref);
    }

    @Test
    void clipWithZeroMinIsFusedLikeRelu() throws Exception {
        Model m = Fixtures.fmnist("fmnist_cnn.onnx");
        Graph g = m.graph();
        g.initializers().put("clip_min", Tensor.scalarFloat(0f));
        g.initializers().put("clip_max", Tensor.scalarFloat(1e4f));
        for (Node n : g.nodes()) if (n.opType().equals("Relu")) {
            n.opType("Clip");
            n.inputs().add("clip_min");
            n.inputs().add("clip_max");
        }
        g.touch();
        Model q = Fixtures.quantize(m, Map.of());
        assertTrue(q.graph().nodes().stream().noneMatch(n -> n.opType().equals("Clip")), "Clips fused into the Q of their producer");
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        assertEquals(3, ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertTrue(Fixtures.top1(q) >= 0.9043 - 0.003);
    }

    /**
     * A model ending in a Conv (fmnist_cnn cut after its last Conv, whose output becomes the graph
     * output, as in segmentation or detection heads): the graph output is the DQ of the Conv's output
     * under the same name, so ONNX Runtime fuses every Conv, and no Q/DQ pair is left without a reader.
     */
    @Test
    void aConvWhoseOutputIsTheGraphOutputRunsAsAnIntegerKernel() throws Exception {
        Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
        Graph g = fp32.graph();
        List<Node> nodes = g.nodes();
        int last = -1;
        for (int i = 0; i < nodes.size(); i++) if (nodes.get(i).opType().equals("Conv")) last = i;
        String out = nodes.get(last).output(0);
        g.removeNodes(new ArrayList<>(nodes.subList(last + 1, nodes.size())));
        g.outputs().clear();
        g.outputs().add(new org.ptq4j.spi.model.ValueInfo(out, DType.FLOAT, null));
        g.removeUnusedInitializers();
        g.touch();
        Model q = Fixtures.quantize(fp32, Map.of());
        assertEquals(List.of(out), q.graph().outputs().stream().map(org.ptq4j.spi.model.ValueInfo::name).toList(), "output name kept");
        assertEquals("DequantizeLinear", q.graph().producer(out).opType(), "the graph output is the Conv output's DQ");
        for (Node n : q.graph().nodes())
            assertTrue(n.outputs().stream().anyMatch(o -> !q.graph().consumers(o).isEmpty() || q.graph().isGraphOutput(o)), "node without a reader: " + n);
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        System.out.println("fmnist_cnn cut after its last Conv, optimized by ORT: " + ops);
        assertEquals(3, ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertFalse(ops.containsKey("Conv") || ops.containsKey("FusedConv"), ops.toString());
        // fidelity of the (now 8-bit) output on 1000 test images
        Tensor x = Fixtures.testImages().slice0(0, 1000);
        float[] a, b;
        try (var s = Fixtures.ENGINE.open(fp32)) { a = s.run(Map.of("input", x)).get(out).floats(); }
        try (var s = Fixtures.ENGINE.open(q)) { b = s.run(Map.of("input", x)).get(out).floats(); }
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        double cosine = dot / Math.sqrt(na * nb);
        System.out.printf("fmnist_cnn cut after its last Conv: output cosine INT8 vs FP32 %.5f%n", cosine);
        assertTrue(cosine > 0.99, "cosine " + cosine);
    }

    @Test
    void asymmetricWeightsRunInOrt() {
        Model q = Fixtures.quantize(Fixtures.fmnist("fmnist_cnn.onnx"), Map.of("weights", Map.of("mode", "asymmetric"), "preset", "mixed"));
        boolean nonZero = false;
        for (Node n : q.graph().nodes()) {
            if (!n.opType().equals("DequantizeLinear")) continue;
            Tensor zp = q.graph().initializer(n.input(2)).orElseThrow();
            if (zp.dtype() == DType.INT8) for (long z : zp.longs()) nonZero |= z != 0;
        }
        assertTrue(nonZero, "asymmetric weights have non-zero zero points");
        double acc = Fixtures.top1(q);
        System.out.printf("cnn asymmetric weights + mixed: %.4f%n", acc);
        assertTrue(acc >= 0.9043 - 0.005, "accuracy " + acc);
        PtqException e = assertThrows(PtqException.class, () -> Fixtures.quantize(Fixtures.fmnist("fmnist_cnn.onnx"),
                Map.of("weights", Map.of("mode", "asymmetric", "granularity", "perchannel"))));
        assertTrue(e.getMessage().contains("weights") && e.getMessage().contains("pertensor"), e.getMessage());
    }

    /** A residual Add between float producers stays float, and float readers keep the exact float tensor. */
    @Test
    void residualAddOfFloatProducersStaysFloat() {
        Model fp32 = OnnxIO.read(TestAssets.model("speed_mlp.onnx"));
        Model q;
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("x", SpeedBenchmarkTest.synthetic(new long[]{128, 512}, 8, 3)))) {
            q = Fixtures.run(new MinMaxQuantization(), fp32, Map.of("stat_subset_size", 8), ctx);
            String s = String.valueOf(ctx.report().asMap().get("MinMaxQuantization"));
            assertTrue(s.contains("n_Add_6") && s.contains("not quantized anyway"), s);
        }
        assertEquals(4, MinMaxQuantization.quantizedLayers(q).size());
        Node residual = q.graph().node("n_Add_6").orElseThrow();
        assertTrue(residual.inputs().contains("x"), "the residual Add reads the float input, not its DQ: " + residual);
        Node first = q.graph().node("n_MatMul_1").orElseThrow();
        assertEquals("DequantizeLinear", q.graph().producer(first.input(0)).opType(), "the MatMul reads the quantized input");
    }

    /** The YAML validator accepts POT-style parameters and rejects bad values naming the key. */
    @Test
    void parametersBindThroughTheConfigValidator() {
        var specs = new DefaultQuantization().parameters();
        Map<String, Object> yaml = Map.of("preset", "mixed", "target_device", "CPU_NO_VNNI", "fast_bias_correction", false,
                "weights", Map.of("bits", 8, "granularity", "perchannel"),
                "activations", Map.of("range_estimator", Map.of("max", Map.of("type", "quantile", "aggregator", "median", "outlier_prob", 0.001))),
                "ignored", Map.of("names", List.of("/features/features.0/Conv"), "types", List.of("Gemm")));
        var p = org.ptq4j.host.config.ParamValidator.bind(specs, yaml, java.nio.file.Path.of("."), "params");
        QuantConfig cfg = QuantConfig.from(p, "DefaultQuantization");
        assertEquals(8, cfg.weights().bits());
        assertEquals(QuantConfig.OverflowFix.PAIRWISE, cfg.overflowFix());
        assertEquals(QuantConfig.OverflowFix.DISABLE, QuantConfig.from(org.ptq4j.host.config.ParamValidator.bind(specs,
                Map.of("target_device", "CPU_VNNI"), java.nio.file.Path.of("."), "params"), "DefaultQuantization").overflowFix());
        PtqException bad = assertThrows(PtqException.class, () -> org.ptq4j.host.config.ParamValidator.bind(specs,
                Map.of("target_device", "TPU"), java.nio.file.Path.of("."), "params"));
        assertTrue(bad.getMessage().contains("CPU_VNNI") && bad.getMessage().contains("HOST"), bad.getMessage());
        assertFalse(cfg.activations().symmetric());
        assertEquals(org.ptq4j.spi.stats.RangeSpec.Reduce.QUANTILE, cfg.activations().range().highType());
        assertEquals(org.ptq4j.spi.stats.RangeSpec.Aggregate.MEDIAN, cfg.activations().range().highAgg());
        assertEquals(0.001, cfg.activations().range().outlierProb(), 1e-12);
        assertEquals(List.of("Gemm"), cfg.ignored().types());
        PtqException e = assertThrows(PtqException.class, () -> org.ptq4j.host.config.ParamValidator.bind(specs,
                Map.of("weights", Map.of("mode", "sym")), java.nio.file.Path.of("."), "params"));
        assertTrue(e.getMessage().contains("mode"), e.getMessage());
    }

    @Test
    void namelessLayersGetStableNamesInBothModels() {
        Model m = Fixtures.fmnist("fmnist_cnn.onnx");
        for (Node n : m.graph().nodes()) n.name("");
        Model q1 = Fixtures.quantize(m, Map.of()), q2 = Fixtures.quantize(m, Map.of());
        List<String> layers = MinMaxQuantization.quantizedLayers(q1);
        assertEquals(4, layers.size());
        assertEquals(layers, MinMaxQuantization.quantizedLayers(q2));
        Model fp32 = (Model) q1.annotations().get(MinMaxQuantization.FP32_MODEL);
        for (String l : layers) {
            assertFalse(l.isEmpty());
            assertTrue(fp32.graph().node(l).isPresent() && q1.graph().node(l).isPresent(), l);
        }
        assertTrue(m.graph().nodes().stream().allMatch(n -> n.name().isEmpty()), "the input model is not modified");
    }
}
