package org.ptq4j.spi.model.transform;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Upgrades the ai.onnx opset of a model from 11 or 12 to 13 (what per-channel
 * {@code DequantizeLinear} needs), rewriting the operators whose form changed:
 * <ul>
 *   <li>{@code Unsqueeze}, {@code Squeeze}, {@code ReduceSum}: attribute {@code axes} becomes input 1;</li>
 *   <li>{@code Split}: attribute {@code split} becomes input 1;</li>
 *   <li>{@code Dropout} (12): attribute {@code ratio} becomes input 1;</li>
 *   <li>{@code Softmax}, {@code LogSoftmax}, {@code Hardmax}: before 13 they coerce the input to 2-D at
 *       {@code axis}; unchanged when {@code axis} is the last axis, otherwise wrapped as
 *       {@code Flatten(axis) -> op(axis=-1) -> Reshape(Shape(x))}.</li>
 * </ul>
 * Every other standard operator of opsets 11..13 kept its meaning and is left as it is; an
 * operator this class does not know, or a control-flow node with a sub-graph (whose body it
 * cannot see), makes it fail with a {@link PtqException} naming the node. Nodes of other
 * domains (e.g. {@code com.microsoft}) are untouched.
 */
public final class OpsetUpgrade {
    private OpsetUpgrade() {}

    /**
     * @param model     the upgraded copy
     * @param fromOpset the opset the input model had
     * @param converted node counts by rewritten op type (empty when nothing needed rewriting)
     */
    public record Result(Model model, long fromOpset, Map<String, Integer> converted) {
        /** One line for reports, e.g. {@code "opset 11 -> 13: Unsqueeze x51"}. */
        public String summary() {
            if (fromOpset >= model.opset()) return "opset " + fromOpset + " kept";
            List<String> parts = new ArrayList<>();
            converted.forEach((op, n) -> parts.add(op + " x" + n));
            return "opset " + fromOpset + " -> " + model.opset() + ": "
                    + (parts.isEmpty() ? "no node needed rewriting" : String.join(", ", parts));
        }
    }

    /** Ops whose form changed at 12 or 13 (handled by a rule below). */
    private static final Set<String> REWRITTEN = Set.of("Unsqueeze", "Squeeze", "ReduceSum", "Split", "Dropout",
            "Softmax", "LogSoftmax", "Hardmax");

    /** Standard ops of opsets 11..13 whose meaning for opset-11 inputs did not change up to 13. */
    private static final Set<String> UNCHANGED = Set.of(
            "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
            "AveragePool", "BatchNormalization", "BitShift", "Cast", "Ceil", "Celu", "Clip", "Compress", "Concat",
            "ConcatFromSequence", "Constant", "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos",
            "Cosh", "CumSum", "DepthToSpace", "DequantizeLinear", "Det", "Div", "DynamicQuantizeLinear", "Einsum",
            "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements",
            "GatherND", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual",
            "HardSigmoid", "Identity", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LeakyRelu",
            "Less", "LessOrEqual", "Log", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool",
            "MaxRoiPool", "MaxUnpool", "Mean", "MeanVarianceNormalization", "Min", "Mod", "Mul", "Multinomial",
            "Neg", "NegativeLogLikelihoodLoss", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "PRelu",
            "Pad", "Pow", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "RNN", "RandomNormal",
            "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2",
            "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
            "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign", "Round", "Scatter",
            "ScatterElements", "ScatterND", "Selu", "SequenceAt", "SequenceConstruct", "SequenceEmpty",
            "SequenceErase", "SequenceInsert", "SequenceLength", "Shape", "Shrink", "Sigmoid", "Sign", "Sin",
            "Sinh", "Size", "Slice", "SoftmaxCrossEntropyLoss", "Softplus", "Softsign", "SpaceToDepth",
            "SplitToSequence", "Sqrt", "Sub", "Sum", "Tan", "Tanh", "TfIdfVectorizer", "ThresholdedRelu", "Tile",
            "TopK", "Transpose", "Unique", "Upsample", "Where", "Xor");

    /** Ops that carry sub-graphs: their bodies are opaque here, so they cannot be converted. */
    private static final Set<String> CONTROL_FLOW = Set.of("If", "Loop", "Scan");

    /** Upgrades to opset 13 (a copy; {@code model} is not modified). A model already at 13 or above is returned as a copy. */
    public static Result toOpset13(Model model) { return upgrade(model, 13); }

    /**
     * Upgrades {@code model}'s ai.onnx opset to {@code target} (12 or 13).
     *
     * @throws PtqException when the model's opset is below 11, or a node cannot be converted
     */
    public static Result upgrade(Model model, long target) {
        long from = model.opset();
        if (target < 12 || target > 13) throw new IllegalArgumentException("opset upgrade target must be 12 or 13, got " + target);
        Model out = model.copy();
        if (from >= target) return new Result(out, from, Map.of());
        if (from < 11) throw new PtqException("model" + where(model) + " has opset " + from
                + "; only opset 11 and 12 models can be upgraded to " + target + " (convert it to opset 11+ when exporting)");
        Graph g = out.graph();
        Rewriter rw = new Rewriter(g, target);
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) continue;
            String op = n.opType();
            if (CONTROL_FLOW.contains(op)) throw new PtqException("node '" + n.name() + "' (" + op + ")" + where(model)
                    + ": cannot upgrade opset " + from + " -> " + target + " inside a sub-graph");
            if (REWRITTEN.contains(op)) rw.rewrite(n, from);
            else if (!UNCHANGED.contains(op)) throw new PtqException("node '" + n.name() + "' (" + op + ")" + where(model)
                    + ": no opset " + from + " -> " + target + " rule for this operator");
        }
        g.sortTopologically();
        out.opsets().remove("ai.onnx");
        out.opsets().put("", target);
        if (out.irVersion() < 7) out.irVersion(7);
        return new Result(out, from, rw.converted);
    }

    private static String where(Model m) { return m.source() == null ? "" : " in " + m.source(); }

    /** The per-op rules. */
    private static final class Rewriter {
        final Graph g;
        final long target;
        final Map<String, Integer> converted = new LinkedHashMap<>();
        final Map<List<Long>, String> int64Consts = new HashMap<>();

        Rewriter(Graph g, long target) { this.g = g; this.target = target; }

        void rewrite(Node n, long from) {
            String op = n.opType();
            switch (op) {
                case "Dropout" -> {
                    // Dropout-12: ratio is input 1 (inference ignores it; keep the value)
                    n.attribute("ratio").ifPresent(a -> {
                        while (n.inputs().size() < 2) n.inputs().add("");
                        n.inputs().set(1, floatConst(n.name() + "_ratio", a.asFloat()));
                        n.attributes().remove("ratio");
                        count(op);
                    });
                }
                case "Unsqueeze", "Squeeze", "ReduceSum", "Split" -> {
                    if (target < 13) return;
                    String attr = op.equals("Split") ? "split" : "axes";
                    Attribute a = n.attributes().remove(attr);
                    if (a == null) {
                        if (op.equals("Unsqueeze")) throw new PtqException("node '" + n.name() + "' (Unsqueeze) has no 'axes' attribute");
                        return; // Squeeze / ReduceSum over all axes, equal Split: same form in 13
                    }
                    while (n.inputs().size() < 1) n.inputs().add("");
                    List<String> in = n.inputs();
                    String c = longsConst(n.name() + "_" + attr, a.asLongs());
                    if (in.size() < 2) in.add(c); else in.set(1, c);
                    count(op);
                }
                case "Softmax", "LogSoftmax", "Hardmax" -> {
                    if (target < 13) return;
                    long axis = n.attrLong("axis", 1);
                    if (axis == -1 || (axis >= 0 && rankOf(n.input(0)) == axis + 1)) {
                        n.set(Attribute.of("axis", -1L));
                        return; // coercion to 2-D at the last axis == single-axis op: same meaning
                    }
                    if (axis < 0) {
                        int r = rankOf(n.input(0));
                        if (r < 0) throw new PtqException("node '" + n.name() + "' (" + op + "): axis " + axis
                                + " with unknown input rank cannot be converted to opset 13");
                        axis += r;
                        if (axis == r - 1) { n.set(Attribute.of("axis", -1L)); return; }
                    }
                    // old semantics: flatten to [prod(d<axis), prod(d>=axis)], op over the 2nd axis, restore the shape
                    String x = n.input(0), y = n.output(0);
                    String flat = g.uniqueName(n.name() + "_flat"), shape = g.uniqueName(n.name() + "_shape"), y2 = g.uniqueName(y + "_2d");
                    Node fl = Node.of(g.uniqueName(n.name() + "_flatten"), "Flatten", List.of(x), List.of(flat)).set(Attribute.of("axis", axis));
                    Node sh = Node.of(g.uniqueName(n.name() + "_shapeof"), "Shape", List.of(x), List.of(shape));
                    g.addNodeBefore(n, fl);
                    g.addNodeBefore(n, sh);
                    n.inputs().set(0, flat);
                    n.outputs().set(0, y2);
                    n.set(Attribute.of("axis", -1L));
                    g.addNode(Node.of(g.uniqueName(n.name() + "_reshape"), "Reshape", List.of(y2, shape), List.of(y)));
                    g.touch();
                    count(op);
                }
                default -> throw new IllegalStateException(op);
            }
        }

        private final Map<String, Integer> ranks = new HashMap<>();

        /** The rank of a tensor: declared, or inferred through the producers of common shape-preserving ops; -1 when unknown. */
        int rankOf(String tensor) {
            Integer known = ranks.get(tensor);
            if (known != null) return known;
            ranks.put(tensor, -1); // guards against cycles
            int r = inferRank(tensor);
            ranks.put(tensor, r);
            return r;
        }

        private int inferRank(String tensor) {
            var vi = g.typeOf(tensor);
            if (vi != null && vi.shape() != null) return vi.shape().size();
            Node p = g.producer(tensor);
            if (p == null || !(p.domain().isEmpty() || p.domain().equals("ai.onnx"))) return -1;
            switch (p.opType()) {
                case "Add", "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less", "Greater", "And", "Or", "Max", "Min", "Sum", "PRelu", "MatMul" -> {
                    int m = 0;
                    for (String in : p.inputs()) {
                        int ri = rankOf(in);
                        if (ri < 0) return -1;
                        m = Math.max(m, ri);
                    }
                    return m;
                }
                case "Relu", "Erf", "Sqrt", "Cast", "Softmax", "LogSoftmax", "Hardmax", "Tanh", "Sigmoid", "Exp", "Log", "Neg", "Abs",
                        "Identity", "Dropout", "Not", "Clip", "Reciprocal", "LeakyRelu", "Elu", "Floor", "Ceil", "Round", "Sign", "Concat" -> {
                    return rankOf(p.input(0));
                }
                case "Transpose" -> {
                    return p.attribute("perm").map(a -> a.asLongs().size()).orElseGet(() -> rankOf(p.input(0)));
                }
                case "Reshape" -> {
                    return g.initializer(p.input(1)).map(t -> (int) t.numElements()).orElse(-1);
                }
                case "Unsqueeze" -> {
                    int in = rankOf(p.input(0));
                    int axes = p.attribute("axes").map(a -> a.asLongs().size())
                            .orElseGet(() -> g.initializer(p.input(1)).map(t -> (int) t.numElements()).orElse(-1));
                    return in < 0 || axes < 0 ? -1 : in + axes;
                }
                case "Flatten", "Gemm" -> {
                    return 2;
                }
                case "Constant" -> {
                    return p.attribute("value").filter(a -> a.kind() == Attribute.Kind.TENSOR).map(a -> a.asTensor().rank())
                            .orElse(p.attribute("value_ints").isPresent() || p.attribute("value_floats").isPresent() ? 1 : 0);
                }
                default -> {
                    return -1;
                }
            }
        }

        void count(String op) { converted.merge(op, 1, Integer::sum); }

        /** One INT64 1-D initializer per distinct value list. */
        String longsConst(String base, List<Long> values) {
            return int64Consts.computeIfAbsent(List.copyOf(values), v -> {
                String name = g.uniqueName(base);
                long[] a = v.stream().mapToLong(Long::longValue).toArray();
                g.initializers().put(name, Tensor.ofLongs(new long[]{a.length}, a));
                return name;
            });
        }

        String floatConst(String base, float v) {
            String name = g.uniqueName(base);
            g.initializers().put(name, Tensor.scalarFloat(v));
            return name;
        }
    }
}
