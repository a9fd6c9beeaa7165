package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.quant.Int16Pairs;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Rewrites a copy of the FP32 model according to a {@link QdqPlan}: Q/DQ pairs on activations,
 * int8 weight initializers behind DQ, int32 biases behind DQ, fused Relus removed.
 * New names derive from the tensor they quantize ({@code <t>_quantized}, {@code <t>_scale} ...),
 * nodes are inserted before their first reader: the output is deterministic.
 */
final class QdqWriter {
    private static final java.util.Set<String> SHAPE_OPS = java.util.Set.of("Shape", "Size");
    private final Graph g;
    private final QdqPlan plan;
    private final QuantConfig cfg;
    private final Map<String, QuantMath.QParams> params = new HashMap<>();
    /** DQ output name -> the point (its {@code replaced} tensor) it dequantizes. */
    private final Map<String, String> dqToPoint = new HashMap<>();
    /** Graph outputs now produced by their DQ -> the quantized op's renamed float output. */
    private final Map<String, String> renamed = new HashMap<>();

    private QdqWriter(Graph g, QdqPlan plan, QuantConfig cfg) {
        this.g = g;
        this.plan = plan;
        this.cfg = cfg;
    }

    /** The quantized copy of {@code fp32}; {@code ranges} maps a point's stat tensor to its range. */
    static Model write(Model fp32, QdqPlan plan, QuantConfig cfg, Function<String, Range> ranges) {
        Model m = fp32.copy();
        Graph g = m.graph();
        QdqWriter w = new QdqWriter(g, plan, cfg);
        w.params(ranges);
        // fused Relus go first: their readers are rewired to the DQ output below
        List<Node> relus = new ArrayList<>();
        for (QdqPlan.Point p : plan.points.values()) if (p.fusedRelu() != null) relus.add(w.findByOutput(p.replaced()));
        g.removeNodes(relus);
        for (QdqPlan.Point p : plan.points.values()) w.activation(p);
        for (QdqPlan.Layer l : plan.layers) w.layer(l);
        for (Node n : plan.gathers) w.gather(w.findByOutput(n.output(0)));
        if (m.opset() >= 13) for (Node n : new ArrayList<>(g.nodes())) if (plan.skipped.containsKey(n.name())) w.keepFloat(n);
        g.removeUnusedInitializers();
        g.sortTopologically();
        return m;
    }

    private void params(Function<String, Range> ranges) {
        QuantConfig.Side a = cfg.activations();
        for (QdqPlan.Point p : plan.points.values()) {
            if (p.stat() == null) continue;
            Range r = ranges.apply(p.stat());
            float lo = p.nonNegative() ? 0f : r.min();
            float hi = r.max();
            params.put(p.replaced(), QuantMath.activation(lo, hi, a.symmetric(), a.bits()));
        }
        for (QdqPlan.Point p : plan.points.values()) {
            if (p.stat() == null) params.put(p.replaced(), params.get(plan.root(p).replaced()));
        }
    }

    /**
     * Q -> DQ on one activation tensor; every reader of the tensor reads the DQ output. When the tensor
     * is a graph output produced by a quantized op (a model ending in a Conv), the graph output becomes
     * the DQ output under the same name, as ONNX Runtime's quantizer does: else the op's float output
     * would be read by the graph output and ONNX Runtime could not fuse the op into its integer kernel.
     * Float readers keep reading the op's exact float output (renamed).
     */
    private void activation(QdqPlan.Point p) {
        QuantMath.QParams qp = params.get(p.replaced());
        String base = p.replaced();
        List<Node> readers = new ArrayList<>();
        for (Node r : g.consumers(p.replaced()))
            if (p.exclusive() || plan.quantizedReaders.contains(r.output(0))) readers.add(r);
        Node producer = g.producer(base);
        boolean output = p.input().equals(base) && g.isGraphOutput(base) && producer != null && producer.domain().isEmpty()
                && (QdqPlan.LAYER_OPS.contains(producer.opType()) || QdqPlan.ARITH_OPS.contains(producer.opType()));
        String qInput = p.input();
        if (output) {
            String exact = g.uniqueName(base + "_float");
            for (Node c : g.consumers(base)) if (!readers.contains(c)) java.util.Collections.replaceAll(c.inputs(), base, exact);
            java.util.Collections.replaceAll(producer.outputs(), base, exact);
            ValueInfo vi = g.valueInfos().remove(base);
            if (vi != null) g.valueInfos().put(exact, new ValueInfo(exact, vi.dtype(), vi.shape()));
            g.touch();
            qInput = exact;
            renamed.put(base, exact);
        }
        String scale = g.uniqueName(base + "_scale");
        String zp = g.uniqueName(base + "_zero_point");
        g.initializers().put(scale, Tensor.scalarFloat(qp.scale()));
        g.initializers().put(zp, Tensor.ofBytes(DType.UINT8, new long[0], new byte[]{(byte) qp.zeroPoint()}));
        String q = g.uniqueName(base + "_quantized");
        String dq = output ? base : g.uniqueName(base + "_dequantized");
        dqToPoint.put(dq, p.replaced());
        Node qn = Node.of(g.uniqueName(base + "_QuantizeLinear"), "QuantizeLinear", List.of(qInput, scale, zp), List.of(q));
        Node dqn = Node.of(g.uniqueName(base + "_DequantizeLinear"), "DequantizeLinear", List.of(q, scale, zp), List.of(dq));
        Node anchor = readers.isEmpty() ? null : readers.get(0);
        for (Node n : g.nodes()) if (readers.contains(n)) { anchor = n; break; }
        if (anchor == null) { g.addNode(qn); g.addNode(dqn); }
        else { g.addNodeBefore(anchor, qn); g.addNodeBefore(anchor, dqn); }
        for (Node r : readers) {
            // Shape / Size read the uint8 tensor: same shape, and no DequantizeLinear kept alive just for its shape
            String to = SHAPE_OPS.contains(r.opType()) && r.domain().isEmpty() ? q : dq;
            List<String> in = r.inputs();
            for (int i = 0; i < in.size(); i++) if (in.get(i).equals(p.replaced())) in.set(i, to);
        }
        if (!p.input().equals(p.replaced()) && g.isGraphOutput(p.replaced()))
            throw new IllegalStateException("fused Relu output '" + p.replaced() + "' is a graph output");
        g.touch();
    }

    /**
     * A Conv / ConvTranspose / Gemm left in FP32 (ignored, or skipped) whose input is a DQ output, or
     * reaches it through data-movement ops (ORT moves the DQ down through those): ONNX Runtime's
     * WeightBiasQuantization would quantize the layer's float weight itself (input from a per-tensor DQ,
     * output on its way to a Q) and run it as an integer kernel. The layer gets its own DQ with the
     * scale and zero point repeated per channel (axis 1: the same values; behind a Q with the source's
     * parameters when data-movement ops sit between, which is exact since their output stays on the
     * 8-bit grid): ORT leaves a layer whose input scale is not a scalar alone, so it stays FP32.
     */
    private void keepFloat(Node n) {
        String op = n.opType();
        if (!n.domain().isEmpty() || !(op.equals("Conv") || op.equals("ConvTranspose") || op.equals("Gemm"))) return;
        if (op.equals("Gemm") && n.attrLong("transA", 0) != 0) return;
        Tensor w = g.initializer(n.input(1)).orElse(null);
        if (w == null || w.rank() < 2) return;
        Node src = g.producer(n.input(0));
        boolean moved = false;
        while (src != null && src.domain().isEmpty() && QdqPlan.MOVE_OPS.contains(src.opType()) && !src.opType().equals("Resize")
                && src.outputs().size() == 1) {
            src = g.producer(src.input(0));
            moved = true;
        }
        if (src == null || !src.opType().equals("DequantizeLinear")) return;
        Tensor scale = g.initializer(src.input(1)).orElse(null);
        Tensor zp = src.input(2).isEmpty() ? null : g.initializer(src.input(2)).orElse(null);
        if (scale == null || scale.numElements() != 1 || (!src.input(2).isEmpty() && (zp == null || zp.numElements() != 1))) return;
        long channels = switch (op) {
            case "Conv" -> w.dim(1) * n.attrLong("group", 1);
            case "ConvTranspose" -> w.dim(0);
            default -> n.attrLong("transB", 0) != 0 ? w.dim(1) : w.dim(0);
        };
        String base = n.input(0) + "_" + (n.name().isEmpty() ? op : n.name());
        String q = src.input(0);
        if (moved) {
            q = g.uniqueName(base + "_float_quantized");
            List<String> qin = new ArrayList<>(List.of(n.input(0), src.input(1)));
            if (zp != null) qin.add(src.input(2));
            g.addNodeBefore(n, Node.of(g.uniqueName(base + "_float_QuantizeLinear"), "QuantizeLinear", qin, List.of(q)));
        }
        float[] s = new float[(int) channels];
        java.util.Arrays.fill(s, scale.floats()[0]);
        String sName = g.uniqueName(base + "_float_scale"), out = g.uniqueName(base + "_float");
        g.initializers().put(sName, Tensor.ofFloats(new long[]{channels}, s));
        List<String> in = new ArrayList<>(List.of(q, sName));
        if (zp != null) {
            byte[] z = new byte[(int) channels];
            java.util.Arrays.fill(z, zp.bytes().get(0));
            String zName = g.uniqueName(base + "_float_zero_point");
            g.initializers().put(zName, Tensor.ofBytes(zp.dtype(), new long[]{channels}, z));
            in.add(zName);
        }
        g.addNodeBefore(n, Node.of(g.uniqueName(base + "_float_DequantizeLinear"), "DequantizeLinear", in, List.of(out)).set(Attribute.of("axis", 1L)));
        n.inputs().set(0, out);
        g.touch();
    }

    /** int8 weight (+ int32 bias) behind DequantizeLinear for one layer. */
    private void layer(QdqPlan.Layer l) {
        Node n = findByOutput(renamed.getOrDefault(l.node().output(0), l.node().output(0)));
        QuantConfig.Side ws = cfg.weights();
        Tensor w = g.initializer(l.weight()).orElseThrow();
        QuantConfig.OverflowFix fix = cfg.overflowFix();
        int bits = fix == QuantConfig.OverflowFix.FIRST_LAYER && l == plan.layers.get(0) ? Math.min(7, ws.bits()) : ws.bits();
        Int16Pairs pairs = fix == QuantConfig.OverflowFix.PAIRWISE && bits == 8 ? Int16Pairs.forLayer(n, w.shape(), l.axis()) : null;
        QuantMath.QWeights qw = QuantMath.weights(w.floats(), w.shape(), l.axis(), ws.symmetric(), bits, ws.range(), pairs, cfg.weightMse());
        String base = l.weight().equals(n.input(1)) ? uniqueBase(n, l.weight()) : l.weight();
        boolean perChannel = l.axis() >= 0;
        long[] cshape = perChannel ? new long[]{qw.scales().length} : new long[0];
        String wq = g.uniqueName(base + "_quantized");
        String ws_ = g.uniqueName(base + "_scale");
        String wz = g.uniqueName(base + "_zero_point");
        g.initializers().put(wq, Tensor.ofBytes(DType.INT8, w.shape(), qw.values()));
        g.initializers().put(ws_, Tensor.ofFloats(cshape, qw.scales()));
        byte[] zpb = new byte[qw.zeroPoints().length];
        for (int i = 0; i < zpb.length; i++) zpb[i] = (byte) qw.zeroPoints()[i];
        g.initializers().put(wz, Tensor.ofBytes(DType.INT8, cshape, zpb));
        String wdq = g.uniqueName(base + "_dequantized");
        Node dqn = Node.of(g.uniqueName(base + "_DequantizeLinear"), "DequantizeLinear", List.of(wq, ws_, wz), List.of(wdq));
        if (perChannel) dqn.set(Attribute.of("axis", (long) l.axis()));
        g.addNodeBefore(n, dqn);
        n.inputs().set(1, wdq);
        bias(n, qw, perChannel);
        g.touch();
    }

    /** Conv / Gemm bias as int32 with scale {@code s_x * s_w[c]}, when the bias is a 1-D (or 1xN) float initializer. */
    private void bias(Node n, QuantMath.QWeights qw, boolean perChannel) {
        if (n.opType().equals("MatMul") || n.inputs().size() < 3 || n.input(2).isEmpty()) return;
        if (n.opType().equals("Gemm") && (n.attrFloat("alpha", 1f) != 1f || n.attrFloat("beta", 1f) != 1f)) return;
        Tensor b = g.initializer(n.input(2)).orElse(null);
        if (b == null || b.dtype() != DType.FLOAT) return;
        long[] s = b.shape();
        long len = b.numElements();
        boolean vector = s.length == 1 || (s.length == 2 && s[0] == 1);
        if (!vector || (perChannel && len != qw.scales().length)) return;
        QuantMath.QParams xp = params.get(dqToPoint.getOrDefault(n.input(0), ""));
        if (xp == null) return;
        float[] scales = new float[(int) len];
        int[] q = QuantMath.bias(b.floats(), xp.scale(), qw.scales(), scales);
        String base = n.input(2);
        String bq = g.uniqueName(base + "_quantized");
        String bs = g.uniqueName(base + "_scale");
        String bz = g.uniqueName(base + "_zero_point");
        g.initializers().put(bq, Tensor.ofInts(new long[]{len}, q));
        if (perChannel) g.initializers().put(bs, Tensor.ofFloats(new long[]{len}, scales));
        else g.initializers().put(bs, Tensor.scalarFloat(scales[0]));
        g.initializers().put(bz, perChannel ? Tensor.ofInts(new long[]{len}, new int[(int) len]) : Tensor.ofInts(new long[0], new int[1]));
        String bdq = g.uniqueName(base + "_dequantized");
        Node dqn = Node.of(g.uniqueName(base + "_DequantizeLinear"), "DequantizeLinear", List.of(bq, bs, bz), List.of(bdq));
        if (perChannel) dqn.set(Attribute.of("axis", 0L));
        g.addNodeBefore(n, dqn);
        n.inputs().set(2, bdq);
    }

    /**
     * An embedding table {@code T[V, H]} stored int8 with one symmetric scale per row (token):
     * {@code Gather(int8 T, ids) -> Cast(float) -> Mul(Gather(scales[V, 1], ids))}, so only the
     * selected rows are dequantized (a DequantizeLinear on the whole table would run every call).
     */
    private void gather(Node n) {
        Tensor t = g.initializer(n.input(0)).orElseThrow();
        QuantMath.QWeights qw = QuantMath.weights(t.floats(), t.shape(), 0, true, 8, cfg.weights().range());
        String base = n.input(0), ids = n.input(1), out = n.output(0);
        String tq = g.uniqueName(base + "_quantized"), ts = g.uniqueName(base + "_row_scales");
        g.initializers().put(tq, Tensor.ofBytes(DType.INT8, t.shape(), qw.values()));
        g.initializers().put(ts, Tensor.ofFloats(new long[]{qw.scales().length, 1}, qw.scales()));
        String rows = g.uniqueName(out + "_quantized"), rowsF = g.uniqueName(out + "_int8_as_float"), scales = g.uniqueName(out + "_scales");
        n.inputs().set(0, tq);
        n.outputs().set(0, rows);
        long axis = n.attrLong("axis", 0);
        Node gs = Node.of(g.uniqueName(out + "_scale_Gather"), "Gather", List.of(ts, ids), List.of(scales)).set(Attribute.of("axis", axis));
        Node cast = Node.of(g.uniqueName(out + "_Cast"), "Cast", List.of(rows), List.of(rowsF)).set(Attribute.of("to", (long) DType.FLOAT.onnxCode()));
        g.addNode(gs);
        g.addNode(cast);
        g.addNode(Node.of(g.uniqueName(out + "_Mul"), "Mul", List.of(rowsF, scales), List.of(out)));
        g.touch();
    }

    /** Name base for a layer's weight: the weight's name, or the node's name when the weight is shared. */
    private String uniqueBase(Node n, String weight) {
        int readers = 0;
        for (QdqPlan.Layer l : plan.layers) if (l.weight().equals(weight)) readers++;
        return readers > 1 ? n.name() + "_" + weight : weight;
    }

    private Node findByOutput(String out) {
        for (Node n : g.nodes()) if (n.outputs().contains(out)) return n;
        throw new IllegalStateException("layer producing '" + out + "' not found");
    }
}
