package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
 * Correction", ICCV 2019): for two layers A -> B joined through ops that commute with a positive
 * per-channel scale (ReLU, MaxPool, AveragePool, GlobalAveragePool, and Flatten of a [N, C, 1, 1] tensor
 * into a Gemm), output channel i of A is divided by {@code s_i} (weights and bias) and input channel i of B
 * multiplied by it. The function is unchanged; with {@code s_i = sqrt(r_A,i / r_B,i)} (r = the channel's
 * max |w|) both ranges become {@code sqrt(r_A,i * r_B,i)}, so neither per-channel weights nor the per-tensor
 * activation between the layers are dominated by a few channels. Pairs share layers (B of one pair is A of
 * the next), so the scaling is repeated until it settles.
 * <p>
 * A and B are Conv (plain or depthwise, not other grouped convs) or Gemm with constant float weights used by
 * no other node; the tensors between them have one reader each and are no graph outputs (a residual Add or
 * a branch would need the same scale on every path).
 */
final class Equalization {
    private Equalization() {}

    /** Ops that commute with a positive per-channel scale of their (NCHW) input. */
    static final Set<String> PASS = Set.of("Relu", "MaxPool", "AveragePool", "GlobalAveragePool");

    /**
     * Two layers and the channel axis they share.
     *
     * @param a the producer layer (its output channels)
     * @param b the consumer layer (its input channels)
     * @param between the tensors from A's output to B's input
     */
    record Pair(Node a, Node b, List<String> between) {}

    /** Every equalizable pair of {@code g}, in graph order. */
    static List<Pair> pairs(Graph g) {
        List<Pair> r = new ArrayList<>();
        for (Node a : g.nodes()) {
            if (!layer(g, a)) continue;
            String t = a.output(0);
            List<String> between = new ArrayList<>(List.of(t));
            boolean flattened = false;
            Node b = null;
            while (true) {
                List<Node> readers = g.consumers(t);
                if (readers.size() != 1 || g.isGraphOutput(t)) break;
                Node c = readers.get(0);
                if (!c.domain().isEmpty()) break;
                if (PASS.contains(c.opType()) && !flattened) { t = c.output(0); between.add(t); continue; }
                if (c.opType().equals("Flatten") && !flattened && c.attrLong("axis", 1) == 1 && afterGlobalPool(g, t)) {
                    flattened = true;
                    t = c.output(0);
                    between.add(t);
                    continue;
                }
                if (layer(g, c) && c.input(0).equals(t) && (!flattened || c.opType().equals("Gemm"))) b = c;
                break;
            }
            if (b == null || outChannels(g, a) != inChannels(g, b)) continue;
            r.add(new Pair(a, b, between));
        }
        return r;
    }

    private static boolean afterGlobalPool(Graph g, String t) {
        Node p = g.producer(t);
        return p != null && p.opType().equals("GlobalAveragePool");
    }

    /** A Conv (plain or depthwise) or Gemm (alpha = beta = 1) with a float weight initializer read by it alone. */
    static boolean layer(Graph g, Node n) {
        if (!n.domain().isEmpty() || n.inputs().size() < 2) return false;
        Tensor w = g.initializer(n.input(1)).orElse(null);
        if (w == null || w.dtype() != DType.FLOAT || g.consumers(n.input(1)).size() != 1) return false;
        if (n.inputs().size() > 2 && !n.input(2).isEmpty()) {
            Tensor b = g.initializer(n.input(2)).orElse(null);
            if (b == null || b.dtype() != DType.FLOAT || g.consumers(n.input(2)).size() != 1 || b.rank() != 1) return false;
        }
        if (n.opType().equals("Conv")) {
            long group = n.attrLong("group", 1);
            return w.rank() >= 3 && (group == 1 || (w.dim(1) == 1 && group == w.dim(0)));
        }
        if (n.opType().equals("Gemm")) return w.rank() == 2 && n.attrFloat("alpha", 1f) == 1f && n.attrFloat("beta", 1f) == 1f && n.attrLong("transA", 0) == 0;
        return false;
    }

    private static boolean depthwise(Node n) {
        return n.opType().equals("Conv") && n.attrLong("group", 1) > 1;
    }

    static long outChannels(Graph g, Node n) {
        Tensor w = g.initializer(n.input(1)).orElseThrow();
        if (n.opType().equals("Conv")) return w.dim(0);
        return n.attrLong("transB", 0) == 1 ? w.dim(0) : w.dim(1);
    }

    static long inChannels(Graph g, Node n) {
        Tensor w = g.initializer(n.input(1)).orElseThrow();
        if (n.opType().equals("Conv")) return depthwise(n) ? w.dim(0) : w.dim(1);
        return n.attrLong("transB", 0) == 1 ? w.dim(1) : w.dim(0);
    }

    /** max |w| of each output channel of {@code n}. */
    static double[] outRanges(Graph g, Node n) {
        return ranges(g, n, true);
    }

    /** max |w| of each input channel of {@code n} (a depthwise conv's input channel is its output channel). */
    static double[] inRanges(Graph g, Node n) {
        return ranges(g, n, false);
    }

    private static double[] ranges(Graph g, Node n, boolean out) {
        Tensor w = g.initializer(n.input(1)).orElseThrow();
        float[] v = w.floats();
        double[] r = new double[(int) (out ? outChannels(g, n) : inChannels(g, n))];
        for (int i = 0; i < v.length; i++) {
            int c = channel(n, w, i, out);
            r[c] = Math.max(r[c], Math.abs(v[i]));
        }
        return r;
    }

    /** The output (or input) channel of flat weight index {@code i}. */
    private static int channel(Node n, Tensor w, int i, boolean out) {
        if (n.opType().equals("Conv")) {
            long per = w.numElements() / w.dim(0);
            if (out || depthwise(n)) return (int) (i / per);
            long inner = per / w.dim(1);
            return (int) ((i / inner) % w.dim(1));
        }
        boolean transB = n.attrLong("transB", 0) == 1;
        int row = (int) (i / w.dim(1)), col = (int) (i % w.dim(1));
        return out == transB ? row : col;
    }

    /** Divides output channel i of A by s[i] (weight and bias) and multiplies input channel i of B by s[i]: exact in FP32. */
    static void scale(Graph g, Pair p, double[] s) {
        multiply(g, p.a(), s, true);
        multiply(g, p.b(), s, false);
    }

    private static void multiply(Graph g, Node n, double[] s, boolean out) {
        Tensor w = g.initializer(n.input(1)).orElseThrow();
        float[] v = w.floats();
        for (int i = 0; i < v.length; i++) {
            double f = s[channel(n, w, i, out)];
            v[i] = (float) (out ? v[i] / f : v[i] * f);
        }
        g.initializers().put(n.input(1), Tensor.ofFloats(w.shape(), v));
        if (out && n.inputs().size() > 2 && !n.input(2).isEmpty()) {
            Tensor b = g.initializer(n.input(2)).orElseThrow();
            float[] bv = b.floats();
            for (int c = 0; c < bv.length; c++) bv[c] = (float) (bv[c] / s[c]);
            g.initializers().put(n.input(2), Tensor.ofFloats(b.shape(), bv));
        }
    }

    /**
     * What equalization did.
     *
     * @param pairs      pairs equalized
     * @param iterations sweeps over all pairs until the largest scale of a sweep was within 1e-3 of 1
     * @param worstBefore largest (max channel range / median channel range) over A's outputs, before
     * @param worstAfter  the same after
     */
    record Result(Model model, int pairs, int iterations, double worstBefore, double worstAfter) {}

    /** Equalizes a copy of {@code model}; the input is not modified. */
    static Result apply(Model model, int maxIterations) {
        Model m = model.copy();
        Graph g = m.graph();
        List<Pair> pairs = pairs(g);
        double before = worstSpread(g, pairs);
        int it = 0;
        for (; it < maxIterations && !pairs.isEmpty(); it++) {
            double change = 0;
            for (Pair p : pairs) {
                double[] ra = outRanges(g, p.a()), rb = inRanges(g, p.b());
                double[] s = new double[ra.length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = ra[i] > 0 && rb[i] > 0 ? Math.sqrt(ra[i] / rb[i]) : 1;
                    change = Math.max(change, Math.abs(Math.log(s[i])));
                }
                scale(g, p, s);
            }
            if (change < 1e-3) { it++; break; }
        }
        g.touch();
        return new Result(m, pairs.size(), it, before, worstSpread(g, pairs));
    }

    /** Largest ratio of a channel's weight range to the median channel's, over the A layers of the pairs. */
    static double worstSpread(Graph g, List<Pair> pairs) {
        double worst = 1;
        for (Pair p : pairs) {
            double[] r = outRanges(g, p.a()).clone();
            java.util.Arrays.sort(r);
            double median = r[r.length / 2];
            if (median > 0) worst = Math.max(worst, r[r.length - 1] / median);
        }
        return worst;
    }
}
