package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A float-exact graph rewrite that lets ONNX Runtime fuse a weight MatMul and its bias into one
 * {@code QGemm}: {@code Add(MatMul(X[..., K], W[K, N]), b[N])} becomes
 * {@code Reshape(Gemm(Reshape(X, [-1, K]), W, b), Shape(X)[:-1] ++ [N])} (just {@code Shape(X)} when N == K;
 * a plain Gemm when X is known to be 2-D). Without it, ORT turns a
 * quantized MatMul into {@code MatMulIntegerToFloat} and leaves the bias Add as a separate float
 * op (measured slower than ORT's own dynamic quantization on MiniLM).
 * <p>
 * The Gemm keeps the MatMul's name (so ignored scopes and FP32 / INT8 layer names still match);
 * the last node keeps the original output name. One {@code Reshape(X, [-1, K])} and one output
 * shape per input tensor are shared by all MatMuls reading it (e.g. attention's Q, K and V).
 * MatMuls whose weight is not a constant rank-2 float initializer are left alone.
 */
final class GemmRewrite {
    private GemmRewrite() {}

    /**
     * The rewritten copy (or {@code model} itself when no MatMul qualifies), counts, and new tensors whose
     * values are those of an FP32 tensor (a Relu moved before the reshape back), for calibration ranges.
     */
    record Result(Model model, int rewritten, int biasesFolded, Map<String, String> statAlias) {}

    static Result apply(Model model) {
        Graph g0 = model.graph();
        if (g0.nodes().stream().noneMatch(n -> qualifies(g0, n))) return new Result(model, 0, 0, Map.of());
        Model m = model.copy();
        Graph g = m.graph();
        Map<String, String> flat = new HashMap<>();     // X -> X reshaped to [-1, K]
        Map<String, String> prefix = new HashMap<>();   // X -> Shape(X)[:-1]; "Shape|" + X -> Shape(X)
        Map<String, String> outShape = new HashMap<>(); // X + "|" + N -> Shape(X)[:-1] ++ [N]
        Map<String, String> alias = new HashMap<>();   // new 2-D chain output -> the FP32 tensor with the same values
        Map<String, String[]> backs = new HashMap<>(); // reshaped-back chain output -> {its 2-D tensor, source X, K of X}
        List<Node> remove = new ArrayList<>();
        int count = 0, folded = 0;
        for (Node mm : new ArrayList<>(g.nodes())) {
            if (!qualifies(g, mm)) continue;
            String x = mm.input(0), out = mm.output(0);
            Tensor w = g.initializer(mm.input(1)).orElseThrow();
            long k = w.dim(0), n = w.dim(1);
            Node bias = biasAdd(g, mm, n);
            String result = out;
            List<String> gemmIn = new ArrayList<>(List.of(x, mm.input(1)));
            if (bias != null) {
                gemmIn.add(bias.input(1));
                result = bias.output(0);
                remove.add(bias);
                folded++;
            }
            if (rank2(g, x)) {                                  // already 2-D: a plain Gemm, no reshapes
                gemmIn.set(0, x);
                g.addNodeBefore(mm, Node.of(mm.name(), "Gemm", gemmIn, List.of(result)));
                remove.add(mm);
                count++;
                continue;
            }
            String[] back = backs.get(x);                       // x = a hoisted chain's reshape back: read its 2-D tensor
            String src = back == null ? x : back[1];
            long srcK = back == null ? k : Long.parseLong(back[2]);
            gemmIn.set(0, back == null ? flat(g, mm, x, k, flat) : back[0]);
            String y2d = g.uniqueName(out + "_2d");
            alias.put(y2d, result);                             // its values are the FP32 result's, flattened
            Node gemm = Node.of(mm.name(), "Gemm", gemmIn, List.of(y2d));
            String shape = outShape.computeIfAbsent(src + "|" + n, key -> n == srcK ? shapeOf(g, mm, src, prefix) : concat(g, mm, src, n, prefix));
            g.addNodeBefore(mm, gemm);
            List<Node> chain = chain(g, result);
            if (!chain.isEmpty()) {                             // elementwise readers (Relu, GELU) run on the 2-D tensor: Relu fuses,
                Map<String, String> renamed = new HashMap<>();  // and a following weight MatMul needs no reshapes
                renamed.put(result, y2d);
                for (Node c : chain) {
                    c.inputs().replaceAll(t -> renamed.getOrDefault(t, t));
                    String o = c.output(0), o2d = g.uniqueName(o + "_2d");
                    renamed.put(o, o2d);
                    alias.put(o2d, o);
                    c.outputs().set(0, o2d);
                }
                result = tail(g, chain, renamed);
                y2d = renamed.get(result);
                backs.put(result, new String[]{y2d, src, String.valueOf(srcK)});
            }
            g.addNodeBefore(mm, Node.of(g.uniqueName(mm.name() + "_reshape_back"), "Reshape", List.of(y2d, shape), List.of(result)));
            remove.add(mm);
            count++;
        }
        g.removeNodes(remove);
        List<Node> unused = new ArrayList<>();
        for (String t : backs.keySet())                          // reshape backs that only fed rewritten MatMuls
            if (g.consumers(t).isEmpty() && !g.isGraphOutput(t)) unused.add(g.producer(t));
        TransformerGraph.removeDead(g, unused);                  // with the shape computations that only they read
        g.sortTopologically();
        return new Result(m, count, folded, alias);
    }

    private static final java.util.Set<String> UNARY = java.util.Set.of("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "Erf",
            "Gelu", "HardSigmoid", "Elu", "Selu", "Softplus", "Identity", "Dropout");

    /** Whether {@code t} is known to be 2-D: declared so, a Gemm / Flatten output, a Reshape to a constant 2-element shape, or a unary op over such a tensor. */
    private static boolean rank2(Graph g, String t) {
        var v = g.typeOf(t);
        if (v != null && v.shape() != null) return v.shape().size() == 2;
        Node p = g.producer(t);
        if (p == null || !p.domain().isEmpty()) return false;
        if (p.opType().equals("Gemm") || p.opType().equals("Flatten")) return true;
        if (p.opType().equals("Reshape")) {                     // a constant target shape of 2 elements
            Tensor shape = g.initializer(p.input(1)).orElse(null);
            Node c = g.producer(p.input(1));
            if (shape == null && c != null && c.opType().equals("Constant")) shape = c.attribute("value").map(a -> a.asTensor()).orElse(null);
            return shape != null && shape.rank() == 1 && shape.numElements() == 2;
        }
        return UNARY.contains(p.opType()) && p.output(0).equals(t) && rank2(g, p.input(0));
    }

    private static final java.util.Set<String> ELEMENTWISE = java.util.Set.of("Add", "Sub", "Mul", "Div", "Pow", "Erf", "Relu",
            "Sigmoid", "Tanh", "Sqrt", "Exp", "Neg", "Abs", "Clip", "LeakyRelu", "Gelu", "HardSigmoid", "Softplus", "Elu", "Selu");

    /**
     * The elementwise nodes reading {@code r} (transitively) whose other inputs are scalar constants, in
     * graph order — e.g. Relu, or GELU's Div/Erf/Add/Mul/Mul — when they read nothing else, every reader of
     * {@code r} is among them and exactly one of their outputs (the tail) is read outside; else empty.
     * Such a chain computes the same values on the 2-D tensor.
     */
    private static List<Node> chain(Graph g, String r) {
        if (g.isGraphOutput(r)) return List.of();
        java.util.Set<String> inside = new java.util.HashSet<>(List.of(r));
        List<Node> chain = new ArrayList<>();
        for (boolean grew = true; grew; ) {
            grew = false;
            for (Node n : g.nodes()) {
                if (chain.contains(n) || !ELEMENTWISE.contains(n.opType()) || !n.domain().isEmpty() || n.outputs().size() != 1) continue;
                boolean reads = false, ok = true;
                for (String t : n.inputs()) {
                    if (inside.contains(t)) reads = true;
                    else if (!t.isEmpty() && !scalarConstant(g, t)) ok = false;
                }
                if (reads && ok) { chain.add(n); inside.add(n.output(0)); grew = true; }
            }
        }
        if (chain.isEmpty()) return List.of();
        for (Node c : g.consumers(r)) if (!chain.contains(c)) return List.of();
        int tails = 0;
        for (Node n : chain) {
            String o = n.output(0);
            if (g.isGraphOutput(o)) return List.of();
            if (g.consumers(o).stream().anyMatch(c -> !chain.contains(c))) tails++;
        }
        if (tails != 1) return List.of();
        List<Node> ordered = new ArrayList<>();
        for (Node n : g.nodes()) if (chain.contains(n)) ordered.add(n);
        return ordered;
    }

    /** The chain's only output still read outside it under its FP32 name (chain readers now read the 2-D names). */
    private static String tail(Graph g, List<Node> chain, Map<String, String> renamed) {
        g.touch();
        for (Map.Entry<String, String> e : renamed.entrySet())
            if (chain.stream().anyMatch(n -> n.output(0).equals(e.getValue())) && !g.consumers(e.getKey()).isEmpty()) return e.getKey();
        throw new IllegalStateException("chain without a tail");
    }

    private static boolean scalarConstant(Graph g, String t) {
        Tensor c = g.initializer(t).orElse(null);
        Node p = g.producer(t);
        if (c == null && p != null && p.opType().equals("Constant")) c = p.attribute("value").map(a -> a.asTensor()).orElse(null);
        return c != null && c.numElements() == 1 && c.rank() <= 1;
    }

    /** A standard MatMul with a non-constant input and a constant rank-2 float weight. */
    static boolean qualifies(Graph g, Node n) {
        if (!n.opType().equals("MatMul") || !n.domain().isEmpty() || g.isInitializer(n.input(0))) return false;
        Tensor w = g.initializer(n.input(1)).orElse(null);
        if (w == null || w.dtype() != DType.FLOAT || w.rank() != 2) return false;
        Node p = g.producer(n.input(0));
        return p == null || !p.opType().equals("Constant");
    }

    /** The Add that is the only reader of the MatMul's output and adds a constant float vector of length N, or null. */
    private static Node biasAdd(Graph g, Node mm, long n) {
        String out = mm.output(0);
        List<Node> cs = g.consumers(out);
        if (cs.size() != 1 || g.isGraphOutput(out)) return null;
        Node a = cs.get(0);
        if (!a.opType().equals("Add") || !a.domain().isEmpty() || a.inputs().size() != 2) return null;
        String other = a.input(0).equals(out) ? a.input(1) : a.input(0);
        if (other.equals(out)) return null;
        Tensor b = g.initializer(other).orElse(null);
        if (b == null || b.dtype() != DType.FLOAT || b.rank() != 1 || b.dim(0) != n) return null;
        if (!a.input(1).equals(other)) { a.inputs().set(0, out); a.inputs().set(1, other); } // bias second
        return a;
    }

    private static String flat(Graph g, Node before, String x, long k, Map<String, String> flat) {
        return flat.computeIfAbsent(x, t -> {
            String s = g.uniqueName(t + "_2d_shape");
            g.initializers().put(s, Tensor.ofLongs(new long[]{2}, new long[]{-1, k}));
            String o = g.uniqueName(t + "_2d");
            g.addNodeBefore(before, Node.of(g.uniqueName(t + "_reshape_2d"), "Reshape", List.of(t, s), List.of(o)));
            return o;
        });
    }

    /** {@code Shape(x)} (the output shape when N == K), one per {@code x}. */
    private static String shapeOf(Graph g, Node before, String x, Map<String, String> cache) {
        return cache.computeIfAbsent("Shape|" + x, key -> {
            String shape = g.uniqueName(x + "_shape");
            g.addNodeBefore(before, Node.of(g.uniqueName(x + "_Shape"), "Shape", List.of(x), List.of(shape)));
            return shape;
        });
    }

    /** {@code Shape(x)[:-1] ++ [n]}; the prefix is shared per {@code x}. */
    private static String concat(Graph g, Node before, String x, long n, Map<String, String> prefix) {
        String pre = prefix.get(x);
        if (pre == null) {
            String t = x;
            String p = g.uniqueName(t + "_shape_prefix");
            String starts = g.uniqueName(t + "_prefix_starts"), ends = g.uniqueName(t + "_prefix_ends");
            g.initializers().put(starts, Tensor.ofLongs(new long[]{1}, new long[]{0}));
            g.initializers().put(ends, Tensor.ofLongs(new long[]{1}, new long[]{-1}));
            g.addNodeBefore(before, Node.of(g.uniqueName(t + "_Slice"), "Slice", List.of(shapeOf(g, before, t, prefix), starts, ends), List.of(p)));
            prefix.put(x, pre = p);
        }
        String nName = g.uniqueName(x + "_N" + n);
        g.initializers().put(nName, Tensor.ofLongs(new long[]{1}, new long[]{n}));
        String s = g.uniqueName(x + "_shape_N" + n);
        g.addNodeBefore(before, Node.of(g.uniqueName(s + "_Concat"), "Concat", List.of(pre, nName), List.of(s)).set(Attribute.of("axis", 0L)));
        return s;
    }
}
