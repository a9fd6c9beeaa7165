package org.ptq4j.plugins.transformer;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.model.transform.OpsetUpgrade;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Opset 11 -> 13 upgrade, checked by running both versions in ONNX Runtime. */
class OpsetUpgradeTest {
    final OrtEngine engine = new OrtEngine();

    @Test
    void miniLmUpgradesTo13WithIdenticalOutputs() {
        Model m = MiniLm.fp32();
        assertEquals(11, m.opset());
        OpsetUpgrade.Result r = OpsetUpgrade.toOpset13(m);
        assertEquals(13, r.model().opset());
        assertEquals(11, m.opset(), "the input model is not modified");
        assertEquals(Map.of("Unsqueeze", 51), r.converted(), r.summary());
        assertTrue(r.summary().contains("opset 11 -> 13: Unsqueeze x51"), r.summary());
        for (Node n : r.model().graph().nodes())
            if (n.opType().equals("Unsqueeze")) assertTrue(n.attribute("axes").isEmpty() && n.inputs().size() == 2, n.toString());
        try (Dataset ds = MiniLm.text(m, 0, 8, 64);
             Session a = engine.open(m); Session b = engine.open(r.model())) {
            Map<String, Tensor> feeds = new HashMap<>();
            for (String k : ds.get(0).inputs().keySet()) {
                List<Tensor> rows = new ArrayList<>();
                for (int i = 0; i < ds.size(); i++) rows.add(ds.get(i).inputs().get(k));
                feeds.put(k, Tensor.stack(rows));
            }
            assertEquals(0f, maxAbsDiff(a.run(feeds).get("last_hidden_state"), b.run(feeds).get("last_hidden_state")), 1e-5f);
        }
    }

    /** What the upgrade is for: per-channel DequantizeLinear weights load and stay faithful at 13, and are refused at 11. */
    @Test
    void perChannelDequantizeLinearNeedsTheUpgrade() {
        Model m = MiniLm.fp32();
        Model at13 = withPerChannelDqWeights(OpsetUpgrade.toOpset13(m).model());
        Model at11 = withPerChannelDqWeights(m);
        assertThrows(PtqException.class, () -> engine.open(at11).close(), "opset-11 DequantizeLinear has no axis");
        try (Dataset ds = MiniLm.text(m, 0, 16, 128, "longest"); Session a = engine.open(m); Session b = engine.open(at13)) {
            Map<String, Tensor> feeds = new HashMap<>();
            List<Tensor> masks = new ArrayList<>();
            for (String k : ds.get(0).inputs().keySet()) {
                List<Tensor> rows = new ArrayList<>();
                for (int i = 0; i < ds.size(); i++) rows.add(ds.get(i).inputs().get(k));
                feeds.put(k, Tensor.stack(rows));
            }
            for (int i = 0; i < ds.size(); i++) masks.add(ds.get(i).inputs().get("attention_mask"));
            var acc = new EmbeddingCosineMetricFactory.EmbeddingCosine("last_hidden_state").newAccumulator();
            acc.update(b.run(feeds), a.run(feeds), masks);
            assertTrue(acc.value() > 0.998, "INT8 per-channel weights, float activations: cosine " + acc.value());
        }
    }

    static Model withPerChannelDqWeights(Model m) {
        Model q = m.copy();
        Graph g = q.graph();
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.opType().equals("MatMul") || !DynamicQuantization.isFloatInit(g, n.input(1), 2)) continue;
            Int8Weights w = Int8Weights.of(g.initializer(n.input(1)).orElseThrow(), true, false);
            String base = n.input(1);
            g.initializers().put(base + "_q", w.q());
            g.initializers().put(base + "_s", w.scale());
            g.initializers().put(base + "_z", w.zeroPoint());
            g.addNodeBefore(n, Node.of(base + "_DequantizeLinear", "DequantizeLinear", List.of(base + "_q", base + "_s", base + "_z"),
                    List.of(base + "_dq")).set(Attribute.of("axis", 1L)));
            n.inputs().set(1, base + "_dq");
        }
        g.touch();
        g.removeUnusedInitializers();
        return q;
    }

    /** Squeeze, Unsqueeze, ReduceSum, Split, Softmax over a non-last axis, Dropout: same results at 11 and 13. */
    @Test
    void generalRulesKeepMeaning() {
        Graph g = new Graph("g");
        g.inputs().add(new ValueInfo("x", DType.FLOAT, List.of(Dim.of(2), Dim.of(3), Dim.of(4))));
        g.addNode(Node.of("unsq", "Unsqueeze", List.of("x"), List.of("u")).set(Attribute.ints("axes", List.of(0L))));
        g.addNode(Node.of("sq", "Squeeze", List.of("u"), List.of("s")).set(Attribute.ints("axes", List.of(0L))));
        g.addNode(Node.of("rs", "ReduceSum", List.of("s"), List.of("r")).set(Attribute.ints("axes", List.of(1L))).set(Attribute.of("keepdims", 1L)));
        g.addNode(Node.of("split", "Split", List.of("x"), List.of("p1", "p2")).set(Attribute.of("axis", 2L)).set(Attribute.ints("split", List.of(1L, 3L))));
        g.addNode(Node.of("drop", "Dropout", List.of("x"), List.of("d")).set(Attribute.of("ratio", 0.3f)));
        g.addNode(Node.of("sm", "Softmax", List.of("d"), List.of("y")).set(Attribute.of("axis", 1L)));
        g.addNode(Node.of("lsm", "LogSoftmax", List.of("x"), List.of("z")).set(Attribute.of("axis", -1L)));
        for (String o : List.of("s", "r", "p1", "p2", "y", "z")) g.outputs().add(new ValueInfo(o, DType.FLOAT, null));
        Model m11 = new Model(g, Map.of("", 11L), 7);

        OpsetUpgrade.Result r = OpsetUpgrade.toOpset13(m11);
        assertEquals(Map.of("Unsqueeze", 1, "Squeeze", 1, "ReduceSum", 1, "Split", 1, "Dropout", 1, "Softmax", 1), r.converted());
        float[] x = new float[24];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.7) * 3;
        Map<String, Tensor> feeds = Map.of("x", Tensor.ofFloats(new long[]{2, 3, 4}, x));
        try (Session a = engine.open(m11); Session b = engine.open(r.model())) {
            Map<String, Tensor> ya = a.run(feeds), yb = b.run(feeds);
            for (String o : List.of("s", "r", "p1", "p2", "y", "z")) {
                assertArrayEquals(ya.get(o).shape(), yb.get(o).shape(), o);
                assertEquals(0f, maxAbsDiff(ya.get(o), yb.get(o)), 1e-6f, o);
            }
            // opset-11 Softmax(axis=1) on [2,3,4] normalizes over 12 values per batch row, not over 3
            float[] y = ya.get("y").floats();
            double sum = 0;
            for (int i = 0; i < 12; i++) sum += y[i];
            assertEquals(1.0, sum, 1e-5);
        }
    }

    @Test
    void unknownOpsAndOldOpsetsFailNamingTheNode() {
        Graph g = new Graph("g");
        g.inputs().add(new ValueInfo("x", DType.FLOAT, List.of(Dim.of(2))));
        g.addNode(Node.of("mystery", "FancyOp", List.of("x"), List.of("y")));
        g.outputs().add(new ValueInfo("y", DType.FLOAT, null));
        PtqException e = assertThrows(PtqException.class, () -> OpsetUpgrade.toOpset13(new Model(g, Map.of("", 11L), 7)));
        assertTrue(e.getMessage().contains("'mystery'") && e.getMessage().contains("FancyOp"), e.getMessage());
        e = assertThrows(PtqException.class, () -> OpsetUpgrade.toOpset13(new Model(g, Map.of("", 9L), 7)));
        assertTrue(e.getMessage().contains("opset 9"), e.getMessage());
        Model at13 = new Model(g, Map.of("", 13L), 7);
        assertEquals(Map.of(), OpsetUpgrade.toOpset13(at13).converted(), "an opset-13 model is left as it is");
    }

    static float maxAbsDiff(Tensor a, Tensor b) {
        float[] x = a.floats(), y = b.floats();
        assertEquals(x.length, y.length);
        float m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }
}
