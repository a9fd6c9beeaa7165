package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Float-graph clean-ups of the transformer recipe, applied to the FP32 model before planning.
 * They cut the per-node overhead that dominates small-batch latency once the matrix products run
 * as integer kernels:
 * <ul>
 * <li>{@link #constantReshapes}: a Reshape whose target shape is assembled at run time from its own
 *   input's dimensions ({@code Concat(Unsqueeze(Gather(Shape(x), i)), ..., 12, 32)}, as PyTorch exports
 *   attention's head split and merge) gets the constant shape {@code [0, 0, 12, 32]}: ONNX's 0 copies
 *   dimension i of the input, which is what the subgraph computed. Exact.</li>
 * <li>{@link #tanhGelu}: the exact GELU {@code 0.5 x (1 + erf(x / sqrt 2))} becomes its tanh form
 *   {@code 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))} in plain ONNX operators, which ONNX
 *   Runtime fuses into its {@code FastGelu} kernel (about a third cheaper than its erf {@code Gelu}
 *   kernel). The two differ by at most about 5e-4 absolute, far below one step of the uint8 grid the
 *   result is quantized to. Optional ({@code approximate_gelu}).</li>
 * </ul>
 */
final class TransformerGraph {
    private TransformerGraph() {}

    static final float SQRT_2_OVER_PI = 0.7978845834732056f;
    static final float GELU_CUBIC = 0.044714998453855515f;

    /** Replaces run-time Reshape shapes built from the reshaped tensor's own dimensions by constants; returns how many. */
    static int constantReshapes(Model m) {
        Graph g = m.graph();
        int count = 0;
        List<Node> detached = new ArrayList<>();
        for (Node r : new ArrayList<>(g.nodes())) {
            if (!r.opType().equals("Reshape") || !r.domain().isEmpty() || r.attrLong("allowzero", 0) != 0) continue;
            Node concat = g.producer(r.input(1));
            if (concat == null || !concat.opType().equals("Concat") || concat.attrLong("axis", 0) != 0) continue;
            long[] shape = new long[concat.inputs().size()];
            boolean ok = true;
            for (int i = 0; i < shape.length && ok; i++) {
                String part = concat.input(i);
                long[] c = constantLongs(g, part);
                if (c != null && c.length == 1) { shape[i] = c[0]; ok = c[0] != 0; continue; }
                ok = copiesDim(g, part, r.input(0), i);
                shape[i] = 0;
            }
            if (!ok) continue;
            String name = g.uniqueName(r.input(1) + "_const");
            g.initializers().put(name, Tensor.ofLongs(new long[]{shape.length}, shape));
            r.inputs().set(1, name);
            g.touch();
            detached.add(concat);
            count++;
        }
        removeDead(g, detached);
        return count;
    }

    /** Whether {@code t} is {@code Unsqueeze(Gather(Shape(x), i), [0])} (i.e. [dim i of x]). */
    private static boolean copiesDim(Graph g, String t, String x, int i) {
        Node u = g.producer(t);
        if (u == null || !u.opType().equals("Unsqueeze")) return false;
        long[] axes = u.attribute("axes").map(a -> a.asLongs().stream().mapToLong(Long::longValue).toArray())
                .orElseGet(() -> constantLongs(g, u.input(1)));
        if (axes == null || axes.length != 1 || axes[0] != 0) return false;
        Node gather = g.producer(u.input(0));
        if (gather == null || !gather.opType().equals("Gather") || gather.attrLong("axis", 0) != 0) return false;
        long[] idx = constantLongs(g, gather.input(1));
        Tensor it = constant(g, gather.input(1));
        if (idx == null || idx.length != 1 || it.rank() != 0 || idx[0] != i) return false;
        Node shape = g.producer(gather.input(0));
        return shape != null && shape.opType().equals("Shape") && shape.attributes().isEmpty() && shape.input(0).equals(x);
    }

    /**
     * Rewrites {@code Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)} (the erf GELU as exported by
     * PyTorch) into the tanh GELU pattern ONNX Runtime fuses into {@code FastGelu}. The output keeps its
     * name. Returns how many were rewritten.
     */
    static int tanhGelu(Model m) {
        Graph g = m.graph();
        int count = 0;
        List<Node> detached = new ArrayList<>();
        for (Node erf : new ArrayList<>(g.nodes())) {
            if (!erf.opType().equals("Erf") || !erf.domain().isEmpty()) continue;
            Node div = g.producer(erf.input(0));
            if (div == null || !div.opType().equals("Div") || !near(scalar(g, div.input(1)), (float) Math.sqrt(2))) continue;
            String x = div.input(0);
            Node add = single(g, erf.output(0), "Add");
            if (add == null || !near(scalar(g, other(add, erf.output(0))), 1f)) continue;
            Node mul = single(g, add.output(0), "Mul");
            if (mul == null || !other(mul, add.output(0)).equals(x)) continue;
            Node half = single(g, mul.output(0), "Mul");
            if (half == null || !near(scalar(g, other(half, mul.output(0))), 0.5f)) continue;
            if (g.consumers(div.output(0)).size() != 1 || g.isGraphOutput(div.output(0)) || g.isGraphOutput(erf.output(0))
                    || g.isGraphOutput(add.output(0)) || g.isGraphOutput(mul.output(0))) continue;
            String base = g.uniqueName(half.name().isEmpty() ? "gelu" : half.name()) + "_tanh";
            String three = constantScalar(g, base + "/three", 3f), cubic = constantScalar(g, base + "/cubic", GELU_CUBIC),
                    scale = constantScalar(g, base + "/sqrt_2_over_pi", SQRT_2_OVER_PI), one = constantScalar(g, base + "/one", 1f),
                    h = constantScalar(g, base + "/half", 0.5f);
            List<Node> nodes = List.of(
                    Node.of(base + "/Pow", "Pow", List.of(x, three), List.of(base + "/x3")),
                    Node.of(base + "/MulCubic", "Mul", List.of(base + "/x3", cubic), List.of(base + "/cx3")),
                    Node.of(base + "/AddX", "Add", List.of(x, base + "/cx3"), List.of(base + "/inner")),
                    Node.of(base + "/MulScale", "Mul", List.of(base + "/inner", scale), List.of(base + "/arg")),
                    Node.of(base + "/Tanh", "Tanh", List.of(base + "/arg"), List.of(base + "/tanh")),
                    Node.of(base + "/AddOne", "Add", List.of(base + "/tanh", one), List.of(base + "/onePlus")),
                    Node.of(base + "/MulHalf", "Mul", List.of(x, h), List.of(base + "/halfX")),
                    Node.of(base + "/Mul", "Mul", List.of(base + "/halfX", base + "/onePlus"), List.of(half.output(0))));
            int at = g.nodes().indexOf(div);
            g.removeNodes(List.of(div, erf, add, mul, half));
            for (Node n : List.of(div, erf, add, half)) for (String t : n.inputs()) if (g.producer(t) != null) detached.add(g.producer(t));
            g.nodes().addAll(Math.min(at, g.nodes().size()), nodes);
            g.touch();
            count++;
        }
        removeDead(g, detached);
        if (count > 0) g.removeUnusedInitializers();
        return count;
    }

    private static boolean near(Float v, float want) { return v != null && Math.abs(v - want) <= 1e-5f * Math.max(1f, Math.abs(want)); }

    private static String other(Node binary, String t) { return binary.input(0).equals(t) ? binary.input(1) : binary.input(0); }

    private static Node single(Graph g, String t, String op) {
        List<Node> c = g.consumers(t);
        return c.size() == 1 && c.get(0).opType().equals(op) && c.get(0).domain().isEmpty() && c.get(0).inputs().size() == 2 ? c.get(0) : null;
    }

    private static String constantScalar(Graph g, String name, float v) {
        String n = g.uniqueName(name);
        g.initializers().put(n, Tensor.scalarFloat(v));
        return n;
    }

    /** A one-element float constant (initializer or Constant node), or null. */
    private static Float scalar(Graph g, String t) {
        Tensor c = constant(g, t);
        return c == null || c.numElements() != 1 || c.dtype() != DType.FLOAT ? null : c.floats()[0];
    }

    private static long[] constantLongs(Graph g, String t) {
        Tensor c = constant(g, t);
        return c == null || (c.dtype() != DType.INT64 && c.dtype() != DType.INT32) ? null : c.longs();
    }

    private static Tensor constant(Graph g, String t) {
        if (t == null || t.isEmpty()) return null;
        if (g.isInitializer(t)) return g.initializer(t).get();
        Node p = g.producer(t);
        if (p != null && p.opType().equals("Constant")) return p.attribute("value").map(Attribute::asTensor).orElse(null);
        return null;
    }

    /**
     * Removes {@code candidates} that nothing reads any more (no reader, not a graph output), and then
     * their producers that became unread, and so on. Only nodes reached this way are removed (a node
     * read only inside a subgraph attribute would look unread).
     */
    static void removeDead(Graph g, List<Node> candidates) {
        java.util.Deque<Node> work = new java.util.ArrayDeque<>(candidates);
        Set<Node> removed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        while (!work.isEmpty()) {
            Node n = work.poll();
            if (removed.contains(n) || !g.nodes().contains(n)) continue;
            boolean unread = n.outputs().stream().allMatch(o -> g.consumers(o).isEmpty() && !g.isGraphOutput(o));
            if (!unread) continue;
            List<Node> producers = new ArrayList<>();
            for (String t : n.inputs()) if (g.producer(t) != null) producers.add(g.producer(t));
            g.removeNodes(List.of(n));
            removed.add(n);
            work.addAll(producers);
        }
    }
}
