package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Where Q/DQ nodes go, decided on the FP32 graph so that ONNX Runtime's QDQ transformer fuses
 * every group into an integer kernel (see ORT's {@code qdq_selectors}):
 * <ul>
 * <li><b>Layers</b> (Conv, Gemm, MatMul with a constant float weight): DQ on the int8 weight, Q/DQ on
 *   the activation input. Conv's output always gets a Q (QLinearConv has no float output); Gemm's and
 *   MatMul's only when a quantized op reads it, otherwise they keep a float output (QGemm with float
 *   output, MatMulIntegerToFloat, which also absorbs a following bias Add).</li>
 * <li><b>Arithmetic</b> (Add, Mul of two activations, Concat; GlobalAveragePool, AveragePool): Q/DQ on
 *   every input and the output (QLinearAdd, QLinearMul, QLinearConcat, QLinearGlobalAveragePool...),
 *   only when every input carries a Q/DQ anyway (CNN residuals and concats); between float producers
 *   (a transformer's residual or attention-mask Add, GELU's Mul) they stay float.</li>
 * <li><b>MatMul of two activations</b> (attention's probabilities x values): Q/DQ on both inputs and the
 *   output (QLinearMatMul) when its output is read in integer form anyway (through data movement, by a
 *   quantized layer); otherwise (attention scores feeding Softmax) it stays float.</li>
 * <li><b>Readers</b>: when the producer runs as an integer kernel every reader reads the DQ output;
 *   otherwise only quantized readers do and float readers keep the exact float tensor.</li>
 * <li><b>Data movement</b> (MaxPool, Reshape, Flatten, Transpose, Squeeze, ...): when a quantized op
 *   reads its output, that output reuses the quantization of the op's data input, so ORT drops the
 *   DQ/Q pair and moves uint8 data.</li>
 * <li><b>Relu fusion</b>: a Relu (or Clip with min 0) that is the only reader of a quantized op's output is removed; the
 *   op's output Q uses the Relu output's range with zero point 0, which clamps exactly like Relu.</li>
 * </ul>
 * Everything is decided in graph order from names and attributes only: the same model and
 * settings give the same plan.
 */
final class QdqPlan {
    static final Set<String> LAYER_OPS = Set.of("Conv", "Gemm", "MatMul");
    static final Set<String> ARITH_OPS = Set.of("Add", "Mul", "Concat", "GlobalAveragePool", "AveragePool", "Sigmoid");
    static final Set<String> MOVE_OPS = Set.of("MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
            "Slice", "Resize", "Expand", "Tile", "DepthToSpace", "SpaceToDepth");

    /**
     * One activation tensor that gets a QuantizeLinear -> DequantizeLinear pair.
     *
     * @param input      the tensor the Q reads (in the quantized graph)
     * @param replaced   the FP32 tensor whose readers switch to the DQ output (differs from
     *                   {@code input} when a Relu was fused)
     * @param stat       FP32 tensor whose range gives the parameters, or null when inherited
     * @param inheritsFrom {@code replaced} of the point whose parameters are reused (data movement), or null
     * @param fusedRelu  name of the Relu node removed by this point, or null
     * @param exclusive  the producer runs as an integer kernel, so every reader must go through the
     *                   DQ (ORT fuses only when the Q is the producer's sole reader); otherwise only
     *                   quantized readers read the DQ and float readers (e.g. a transformer's residual
     *                   Add) keep the exact float tensor
     */
    record Point(String input, String replaced, String stat, String inheritsFrom, String fusedRelu, boolean exclusive) {
        boolean nonNegative() { return fusedRelu != null; }
    }

    /** A quantized layer: the node, its weight initializer and the weight's output-channel axis (-1: per tensor). */
    record Layer(Node node, String weight, int axis) {}

    /** Quantized layers in graph order. */
    final List<Layer> layers = new ArrayList<>();
    /** Points by {@code replaced} name, in graph order of the tensors' producers. */
    final LinkedHashMap<String, Point> points = new LinkedHashMap<>();
    /** Nodes of quantizable types left in FP32, with the reason. */
    final LinkedHashMap<String, String> skipped = new LinkedHashMap<>();
    /** Arithmetic / pooling / data-movement nodes that run in integer arithmetic. */
    final List<String> quantizedOther = new ArrayList<>();
    /** First output names of every node that reads DQ outputs (layers, arithmetic, data movement). */
    final Set<String> quantizedReaders = new HashSet<>();
    /** Embedding {@code Gather} nodes whose constant float table is stored int8 ({@code model_type: transformer}). */
    final List<Node> gathers = new ArrayList<>();
    /** Ignored-scope entries that matched no node. */
    final List<String> unmatched = new ArrayList<>();
    /** Whether per-channel weights were requested but the opset does not allow them. */
    boolean perChannelFallback;

    private final Graph g;
    private final Map<String, Boolean> floatCache = new HashMap<>();

    private QdqPlan(Graph g) { this.g = g; }

    /** The graph this plan was made for. */
    Graph graph() { return g; }

    /** Plans the quantization of {@code model} (not modified). */
    static QdqPlan of(Model model, QuantConfig cfg, String algorithm) {
        long opset = model.opset();
        if (opset < 10) throw new PtqException("model opset " + opset + ": QuantizeLinear / DequantizeLinear need opset >= 10; upgrade the model");
        Graph g = model.graph();
        QdqPlan plan = new QdqPlan(g);
        boolean perChannel = cfg.weights().perChannel();
        if (perChannel && opset < 13) { perChannel = false; plan.perChannelFallback = true; }
        Set<Node> ignored = plan.ignored(cfg.ignored(), algorithm);

        Set<String> need = new LinkedHashSet<>();           // FP32 tensors that must carry Q/DQ
        Set<Node> quantOps = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Node n : g.nodes()) {                            // 1. layers
            String op = n.opType();
            if (!LAYER_OPS.contains(op) || !n.domain().isEmpty()) continue;
            if (ignored.contains(n)) { plan.skipped.put(n.name(), "ignored"); continue; }
            String why = plan.layerProblem(n, cfg);
            if (why != null) { plan.skipped.put(n.name(), why); continue; }
            int axis = !perChannel ? -1 : op.equals("Conv") ? 0 : op.equals("MatMul") ? 1 : n.attrLong("transB", 0) == 1 ? 0 : 1;
            if (op.equals("MatMul") && g.initializer(n.input(1)).get().rank() != 2) axis = -1;
            plan.layers.add(new Layer(n, n.input(1), axis));
            quantOps.add(n);
            need.add(n.input(0));
            if (op.equals("Conv")) need.add(n.output(0));
        }
        for (Node n : g.nodes()) {                            // 2. arithmetic, in graph order
            String op = n.opType();
            if (!ARITH_OPS.contains(op) || !n.domain().isEmpty()) continue;
            if (ignored.contains(n)) { plan.skipped.put(n.name(), "ignored"); continue; }
            List<String> data = op.equals("Add") || op.equals("Mul") || op.equals("Concat") ? n.inputs() : List.of(n.input(0));
            String why = null;
            for (String t : data) {
                if (why != null) break;
                if (t.isEmpty()) why = "an input is omitted";
                else if (plan.isConstant(t)) why = "input '" + t + "' is a constant (e.g. a bias): stays float";
                else if (!plan.isFloat(t)) why = "input '" + t + "' is not float";
                else if (!plan.available(t, need, quantOps, ignored)) why = "input '" + t + "' is not quantized anyway: stays float";
            }
            if ((op.equals("Add") || op.equals("Mul")) && n.inputs().size() != 2) why = "not a binary op";
            if (why != null) { plan.skipped.put(n.name(), why); continue; }
            quantOps.add(n);
            plan.quantizedOther.add(n.name());
            need.addAll(data);
            need.add(n.output(0));
        }
        for (Node n : g.nodes()) {                            // 2b. MatMul of two activations
            if (!cfg.activationMatMul() || !n.opType().equals("MatMul") || !n.domain().isEmpty() || quantOps.contains(n) || plan.isConstant(n.input(1))) continue;
            if (!plan.isFloat(n.input(0)) || !plan.isFloat(n.input(1)) || plan.isConstant(n.input(0))) continue;
            if (ignored.contains(n)) { plan.skipped.put(n.name(), "ignored"); continue; }
            if (!plan.readInteger(n.output(0), need)) {
                // attention scores: Q x K^T feeds the float Scale/Softmax; an integer MatMul with float output
                // (MatMulIntegerToFloat) plus a separate scale measured slower than ORT's float FusedMatMul
                plan.skipped.put(n.name(), "MatMul of two activations whose output is read in float (e.g. attention scores): stays float, ORT's FusedMatMul is faster");
                continue;
            }
            plan.skipped.remove(n.name());
            quantOps.add(n);                                 // QLinearMatMul (e.g. attention probabilities x values)
            plan.quantizedOther.add(n.name());
            need.add(n.input(0));
            need.add(n.input(1));
            need.add(n.output(0));
        }
        if (cfg.transformer()) for (Node n : g.nodes()) {      // 3. embedding tables
            if (!n.opType().equals("Gather") || !n.domain().isEmpty()) continue;
            Tensor t = g.initializer(n.input(0)).orElse(null);
            if (t == null || t.dtype() != DType.FLOAT || t.rank() != 2 || n.attrLong("axis", 0) != 0 || g.consumers(n.input(0)).size() != 1) continue;
            if (ignored.contains(n)) plan.skipped.put(n.name(), "ignored");
            else plan.gathers.add(n);
        }
        // MatMul / Gemm outputs: quantized when a quantized op reads them (directly or through a fusable Relu);
        // a Gemm's also when a Relu is its only reader: ORT fuses Gemm + Relu into a float FusedGemm before it
        // would fuse the Gemm into an integer kernel with float output, so the Relu goes into the output Q
        // instead (its float readers, e.g. an ignored layer, read the DQ). A MatMul keeps its float output
        // (MatMulIntegerToFloat, then the Relu).
        for (Layer l : plan.layers) {
            String out = l.node().output(0);
            List<Node> readers = g.consumers(out);
            for (Node c : readers) {
                if (quantOps.contains(c) && c.inputs().indexOf(out) >= 0) need.add(out);
            }
            if (l.node().opType().equals("Gemm") && readers.size() == 1 && plan.isRelu(readers.get(0)) && !ignored.contains(readers.get(0))
                    && !g.isGraphOutput(out) && !g.isGraphOutput(readers.get(0).output(0))) need.add(out);
        }
        plan.resolve(need, quantOps, ignored);
        return plan;
    }

    /**
     * Whether {@code t} carries a Q/DQ anyway: it is needed by a layer or a quantized op, or it is the
     * output of a fusable Relu or of a data-movement op over such a tensor. Arithmetic ops are
     * quantized only when all their inputs are available: an integer Add between float producers
     * (a transformer's residual or attention-mask Add) would only add Q/DQ and error.
     */
    private boolean available(String t, Set<String> need, Set<Node> quantOps, Set<Node> ignored) {
        if (need.contains(t)) return true;
        Node p = g.producer(t);
        if (p == null || ignored.contains(p) || !p.domain().isEmpty()) return false;
        if (isRelu(p)) {
            String u = p.input(0);
            Node up = g.producer(u);
            return up != null && quantOps.contains(up) && g.consumers(u).size() == 1 && available(u, need, quantOps, ignored);
        }
        return MOVE_OPS.contains(p.opType()) && p.outputs().size() == 1 && available(p.input(0), need, quantOps, ignored);
    }

    /** Turns needed tensors into points: data-movement inheritance and Relu fusion. */
    private void resolve(Set<String> need, Set<Node> quantOps, Set<Node> ignored) {
        Deque<String> work = new ArrayDeque<>(need);
        Map<String, String> inherit = new LinkedHashMap<>();  // tensor -> data input it inherits from
        Set<String> all = new LinkedHashSet<>(need);
        while (!work.isEmpty()) {
            String t = work.poll();
            Node p = g.producer(t);
            if (p != null && MOVE_OPS.contains(p.opType()) && p.domain().isEmpty() && !ignored.contains(p)
                    && p.outputs().size() == 1 && isFloat(p.input(0)) && !isConstant(p.input(0))) {
                inherit.put(t, p.input(0));
                if (all.add(p.input(0))) work.add(p.input(0));
                if (!quantizedOther.contains(p.name())) quantizedOther.add(p.name());
                quantizedReaders.add(p.output(0));
            }
        }
        // Relu fusion candidates: relu output r needed (or relu reads a needed quantized output u).
        Map<String, Node> fuse = new HashMap<>();  // u -> relu
        for (String t : all) {
            Node p = g.producer(t);
            Node relu = null;
            if (p != null && isRelu(p)) relu = p;
            else {
                List<Node> cs = g.consumers(t);
                if (cs.size() == 1 && isRelu(cs.get(0))) relu = cs.get(0);
            }
            if (relu == null || ignored.contains(relu) || !relu.domain().isEmpty()) continue;
            String u = relu.input(0), r = relu.output(0);
            Node up = g.producer(u);
            if (up == null || !quantOps.contains(up) || g.consumers(u).size() != 1 || g.isGraphOutput(u) || g.isGraphOutput(r)) continue;
            if (!(LAYER_OPS.contains(up.opType()) || ARITH_OPS.contains(up.opType()))) continue;
            fuse.put(u, relu);
        }
        for (Node n : quantOps) quantizedReaders.add(n.output(0));
        // Build points in graph order of the tensors' producers (graph inputs first).
        List<String> ordered = new ArrayList<>();
        for (ValueInfo v : g.inputs()) if (all.contains(v.name())) ordered.add(v.name());
        for (Node n : g.nodes()) for (String o : n.outputs()) if (all.contains(o)) ordered.add(o);
        for (String t : ordered) {
            Node p = g.producer(t);
            Node relu = fuse.get(t);
            if (relu == null && p != null && isRelu(p) && fuse.get(p.input(0)) == p) relu = p;
            if (relu != null) {
                String r = relu.output(0);
                if (!points.containsKey(r)) points.put(r, new Point(relu.input(0), r, r, null, relu.name(), true));
                continue;
            }
            String from = inherit.get(t);
            boolean exclusive = p != null && (quantOps.contains(p) || inherit.containsKey(t));
            points.put(t, from != null ? new Point(t, t, null, from, null, exclusive) : new Point(t, t, t, null, null, exclusive));
        }
    }

    /**
     * Relu, or a Clip whose lower bound is 0 (Relu6): fusable into the producer's output Q, whose
     * zero point 0 clamps at 0 and whose measured upper range (at most the Clip's max) clamps above.
     */
    private boolean isRelu(Node n) {
        if (!n.domain().isEmpty()) return false;
        if (n.opType().equals("Relu")) return true;
        if (!n.opType().equals("Clip")) return false;
        if (n.attribute("min").isPresent()) return n.attrFloat("min", -1f) == 0f;
        String min = n.input(1);
        if (min.isEmpty()) return false;
        Tensor t = g.initializer(min).orElse(null);
        if (t == null) {
            Node c = g.producer(min);
            if (c != null && c.opType().equals("Constant")) t = c.attribute("value").map(a -> a.asTensor()).orElse(null);
        }
        return t != null && t.numElements() == 1 && t.floats()[0] == 0f;
    }

    /**
     * Whether {@code t} is read in integer form: it is needed by a quantized op, or its only reader
     * (shape readers aside) is a data-movement op whose output is.
     */
    private boolean readInteger(String t, Set<String> need) {
        if (need.contains(t)) return true;
        if (g.isGraphOutput(t)) return false;
        List<Node> readers = g.consumers(t).stream().filter(c -> !c.opType().equals("Shape") && !c.opType().equals("Size")).toList();
        if (readers.size() != 1) return false;
        Node c = readers.get(0);
        return MOVE_OPS.contains(c.opType()) && c.domain().isEmpty() && c.outputs().size() == 1 && c.input(0).equals(t)
                && readInteger(c.output(0), need);
    }

    /** Why a Conv / Gemm / MatMul cannot be quantized, or null. */
    private String layerProblem(Node n, QuantConfig cfg) {
        String x = n.input(0), w = n.input(1);
        Tensor wt = g.initializer(w).orElse(null);
        if (wt == null) return "weight '" + w + "' is not a constant initializer";
        if (wt.dtype() != DType.FLOAT) return "weight '" + w + "' is " + wt.dtype() + ", not FLOAT";
        if (isConstant(x) || !isFloat(x)) return "input '" + x + "' is a constant or not float";
        switch (n.opType()) {
            case "Conv": return wt.rank() < 3 ? "weight of rank " + wt.rank() : null;
            case "Gemm": return n.attrLong("transA", 0) != 0 ? "transA=1 is not supported" : wt.rank() != 2 ? "weight of rank " + wt.rank() : null;
            default: return wt.rank() < 2 ? "weight of rank " + wt.rank() : null;
        }
    }

    private boolean isConstant(String t) {
        if (g.isInitializer(t)) return true;
        Node p = g.producer(t);
        return p != null && p.opType().equals("Constant");
    }

    /** Whether a tensor is float: declared type, else inferred from its producer. */
    boolean isFloat(String t) {
        Boolean c = floatCache.get(t);
        if (c != null) return c;
        boolean r;
        ValueInfo v = g.typeOf(t);
        if (v != null && v.dtype() != null) r = v.dtype() == DType.FLOAT;
        else {
            Node p = g.producer(t);
            if (p == null) r = false;
            else switch (p.opType()) {
                case "Shape": case "Size": case "NonZero": case "ArgMax": case "ArgMin": case "Equal": case "Less": case "Greater": case "Not": r = false; break;
                case "Cast": r = p.attrLong("to", 0) == DType.FLOAT.onnxCode(); break;
                case "Constant": r = p.attribute("value").map(a -> a.asTensor().dtype() == DType.FLOAT).orElse(false); break;
                default: floatCache.put(t, false); r = !p.inputs().isEmpty() && isFloat(p.input(0));
            }
        }
        floatCache.put(t, r);
        return r;
    }

    /** Nodes in the ignored scope; records entries that match nothing. */
    private Set<Node> ignored(QuantConfig.Ignored ig, String algorithm) {
        Set<Node> out = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (String name : ig.names()) {
            boolean hit = false;
            for (Node n : g.nodes()) if (n.name().equals(name)) { out.add(n); hit = true; }
            if (!hit) unmatched.add("names: '" + name + "'");
        }
        for (String re : ig.patterns()) {
            Pattern p;
            try { p = Pattern.compile(re); }
            catch (PatternSyntaxException e) { throw new PtqException(algorithm + ".ignored.patterns: '" + re + "' is not a valid regular expression: " + e.getDescription()); }
            boolean hit = false;
            for (Node n : g.nodes()) if (p.matcher(n.name()).matches()) { out.add(n); hit = true; }
            if (!hit) unmatched.add("patterns: '" + re + "'");
        }
        for (String type : ig.types()) {
            boolean hit = false;
            for (Node n : g.nodes()) if (n.opType().equals(type)) { out.add(n); hit = true; }
            if (!hit) unmatched.add("types: '" + type + "'");
        }
        if (!unmatched.isEmpty() && ig.validate()) {
            throw new PtqException(algorithm + ".ignored: " + String.join(", ", unmatched)
                    + " matches no node of graph '" + g.name() + "' (set ignored.validate: false to allow)");
        }
        return out;
    }

    /** Measure ranges on FP32 tensors instead of rewritten ones with the same values ({@link GemmRewrite}). */
    void aliasStats(Map<String, String> alias) {
        if (alias.isEmpty()) return;
        points.replaceAll((k, p) -> p.stat() == null || !alias.containsKey(p.stat()) ? p
                : new Point(p.input(), p.replaced(), alias.get(p.stat()), p.inheritsFrom(), p.fusedRelu(), p.exclusive()));
    }

    /** FP32 tensors whose ranges the plan needs, in plan order. */
    List<String> statTensors() {
        List<String> r = new ArrayList<>();
        for (Point p : points.values()) if (p.stat() != null && !r.contains(p.stat())) r.add(p.stat());
        return r;
    }

    /** The point whose parameters {@code p} uses (follows inheritance). */
    Point root(Point p) {
        Set<String> seen = new HashSet<>();
        while (p.inheritsFrom() != null && seen.add(p.replaced())) {
            Point q = points.get(p.inheritsFrom());
            if (q == null) throw new IllegalStateException("no point for " + p.inheritsFrom());
            p = q;
        }
        return p;
    }
}
