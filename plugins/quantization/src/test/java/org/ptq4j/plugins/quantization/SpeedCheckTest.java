package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code speed_check} ({@link SpeedCheck}, default for {@code target_device: HOST}): layer groups timed in FP32 vs INT8
 * on this CPU, those faster in FP32 kept there. Which groups win depends on the CPU, so the real-clock test checks the
 * bookkeeping (every group timed, the written model is what the decisions say, accuracy), and a fixed clock under
 * which depthwise convs are faster in FP32 checks that a winning group really ends up FP32 in ONNX Runtime's graph.
 * Model: {@code tiny_effnet.onnx} (1x1, depthwise and 3x3 convs, SiLU and squeeze-excite gates, Add, Gemm).
 */
class SpeedCheckTest {
    private static final String SECTION = "MinMaxQuantization";

    record Run(Model model, Map<String, Object> report) {}

    @SuppressWarnings("unchecked")
    private static Run quantize(Map<String, Object> params, SpeedCheck.Timer timer) throws Exception {
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("x", SpeedBenchmarkTest.synthetic(new long[]{3, 32, 32}, 100, 1)))) {
            MinMaxQuantization algo = new MinMaxQuantization();
            Params p = ctx.params(algo, params);
            Model m = MinMaxQuantization.quantize(SiluTest.tiny(), p, null, ctx, SECTION, timer);
            Map<String, Object> speed = (Map<String, Object>) ctx.report().asMap().get(SpeedCheck.section(SECTION));
            return new Run(m, speed == null ? Map.of() : speed);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> trials(Run r) {
        return (List<Map<String, Object>>) r.report().get(SpeedCheck.TABLE);
    }

    private static boolean depthwise(Node n) { return n.opType().equals("Conv") && n.attrLong("group", 1) > 1; }

    @Test
    void hostTimesEveryLayerGroupAndWritesTheModelItsDecisionsDescribe() throws Exception {
        Model fp32 = SiluTest.tiny();
        Run r = quantize(Map.of("target_device", "HOST"), null);
        List<Map<String, Object>> rows = trials(r);
        assertNotNull(rows, "HOST times the layer groups: " + r.report());
        System.out.println("tiny_effnet speed check on " + org.ptq4j.spi.CpuInfo.host().describe() + ": " + rows + "; " + r.report().get("speed on this CPU"));
        List<String> groups = rows.stream().map(x -> (String) x.get("group")).toList();
        for (String g : List.of("1x1 Conv", "squeeze-excite Conv", "depthwise Conv", "3x3 Conv", "Sigmoid", "Mul", "Gemm"))
            assertTrue(groups.contains(g), g + " timed: " + groups);
        int convLayers = 0, keptConvs = 0;
        for (Map<String, Object> row : rows) {
            assertTrue((Double) row.get("int8_ms") > 0 && (Double) row.get("fp32_ms") > 0, row.toString());
            if (((String) row.get("group")).endsWith("Conv")) {
                if ((Integer) row.get("pass") == 1) convLayers += (Integer) row.get("layers");   // pass 2 re-tries groups
                if (!row.get("decision").equals("INT8")) keptConvs += (Integer) row.get("layers");
            }
        }
        long convs = fp32.graph().nodes().stream().filter(n -> n.opType().equals("Conv")).count();
        assertEquals(convs, convLayers, "every Conv is in one timed group");
        Map<String, Integer> ops = Fixtures.optimizedOps(r.model());
        assertEquals(convs - keptConvs, (long) ops.getOrDefault("QLinearConv", 0), "INT8 exactly where the check chose INT8: " + ops);
        assertEquals(convs - keptConvs, MinMaxQuantization.quantizedLayers(r.model()).stream().filter(n -> !n.contains("Gemm")).count());
        assertNotNull(r.report().get("speed on this CPU"));
        Tensor held = SpeedBenchmarkTest.synthetic(new long[]{3, 32, 32}, 64, 99);
        double c = SiluTest.cosine(fp32, r.model(), held);
        assertTrue(c > 0.99, "cosine vs FP32 " + c);
    }

    @Test
    void aGroupFasterInFp32EndsUpInFp32() throws Exception {
        Model fp32 = SiluTest.tiny();
        // a clock under which a depthwise conv costs 2 units in INT8 and 1 in FP32, everything else the same:
        // only the depthwise group gains by more than the margin
        SpeedCheck.Timer clock = models -> {
            double[] ms = new double[models.size()];
            for (int k = 0; k < ms.length; k++) {
                Model m = models.get(k);
                ms[k] = 10;
                for (Node n : m.graph().nodes())
                    if (depthwise(n)) ms[k] += m.graph().initializer(n.input(1)).isPresent() ? 1 : 2;
            }
            return ms;
        };
        Run r = quantize(Map.of("speed_check", "on"), clock);
        List<String> kept = new ArrayList<>();
        for (Map<String, Object> row : trials(r)) if (!row.get("decision").equals("INT8")) kept.add((String) row.get("group"));
        assertEquals(List.of("depthwise Conv"), kept, "report: " + r.report());
        assertTrue(((String) r.report().get(SpeedCheck.KEPT)).startsWith("depthwise Conv x"), r.report().toString());

        long dw = fp32.graph().nodes().stream().filter(SpeedCheckTest::depthwise).count(), convs = fp32.graph().nodes().stream().filter(n -> n.opType().equals("Conv")).count();
        assertTrue(dw > 0);
        for (Node n : r.model().graph().nodes())
            if (depthwise(n)) assertTrue(r.model().graph().initializer(n.input(1)).isPresent(), n.name() + " reads float weights");
        Map<String, Integer> ops = Fixtures.optimizedOps(r.model());
        assertEquals(convs - dw, (long) ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertEquals(dw, (long) ops.getOrDefault("Conv", 0) + ops.getOrDefault("FusedConv", 0), "depthwise convs run in float: " + ops);
        assertFalse(MinMaxQuantization.quantizedLayers(r.model()).stream().anyMatch(n -> fp32.graph().node(n).map(SpeedCheckTest::depthwise).orElse(false)));
        Tensor held = SpeedBenchmarkTest.synthetic(new long[]{3, 32, 32}, 64, 99);
        assertTrue(SiluTest.cosine(fp32, r.model(), held) > 0.99);
    }

    @Test
    void smallLossesThatAddUpToASlowerModelAreTakenBackInASecondPass() throws Exception {
        // every node that reads a dequantized tensor costs 0.02: no single group gains 3 %, together INT8 is ~9 % slower
        SpeedCheck.Timer clock = models -> {
            double[] ms = new double[models.size()];
            for (int k = 0; k < ms.length; k++) {
                Model m = models.get(k);
                ms[k] = 10;
                for (Node n : m.graph().nodes()) {
                    if (n.opType().equals("DequantizeLinear") || n.opType().equals("QuantizeLinear")) continue;
                    for (String in : n.inputs()) {
                        Node p = in.isEmpty() ? null : m.graph().producer(in);
                        if (p != null && p.opType().equals("DequantizeLinear")) { ms[k] += 0.02; break; }
                    }
                }
            }
            return ms;
        };
        Run r = quantize(Map.of("speed_check", "on"), clock);
        List<Map<String, Object>> rows = trials(r);
        for (Map<String, Object> row : rows)
            if ((Integer) row.get("pass") == 1) assertEquals("INT8", row.get("decision"), "no group gains 3 % alone: " + row);
        assertTrue(rows.stream().anyMatch(x -> (Integer) x.get("pass") == 2 && !x.get("decision").equals("INT8")), "pass 2 keeps groups in FP32: " + rows);
        String speed = (String) r.report().get("speed on this CPU");
        assertTrue(speed.contains("(1.00x)") || speed.contains("(0.99x)") || speed.contains("(1.01x)"), "as fast as FP32 in the end: " + speed);
    }

    @Test
    void portableDefaultDoesNotTime() throws Exception {
        Run r = quantize(Map.of(), (models) -> { throw new AssertionError("ANY must not time"); });
        assertNull(trials(r), r.report().toString());
    }
}
