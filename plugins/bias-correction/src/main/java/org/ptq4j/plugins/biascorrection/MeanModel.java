package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiPredicate;

/**
 * How the layers' output means follow from measured input means, and how a correction travels:
 * what FastBiasCorrection's default estimator solves, in plain Java on per-channel numbers.
 * <p>
 * <b>A layer's mean.</b> A Conv / Gemm / MatMul is linear in its input, so its mean output is the
 * layer applied to its mean input. Per output channel that needs no convolution: the mean over all
 * output positions of {@code conv(m)} is {@code sum_{i,a,b} W[o,i,a,b] S[i,a,b] / P}, where
 * {@code S[i,a,b]} sums input channel i over the positions kernel tap (a, b) reads (padding
 * excluded, strides and dilations included), computed from row sums in one sweep of {@code m}. So
 * {@code E[y_q] = mean_c(layer_q(E[x_q])) + bias} and the FP32 target
 * {@code mean_c(layer_fp32(E[x_fp32])) + bias_fp32} are exact.
 * <p>
 * <b>How a correction travels</b> (linearised at the measured point, per channel): a shift {@code d}
 * that is the same at every position of a channel moves a layer's output mean by {@code A d} with
 * {@code A[o,i] = sum_{a,b} W[o,i,a,b] * (share of output positions at which tap (a, b) is inside
 * the input)}; Add, Sub, Concat, pools, Flatten, Reshape, DequantizeLinear carry it as they carry
 * values (MaxPool: a uniform shift of a window moves its maximum alike); a Relu, or a QuantizeLinear
 * clipping at its lower end (a Relu folded into the zero point), lets through {@code d * P(x > 0)}
 * per channel, P being FP32's share of positive values at that Relu (FP32's statistics pass reads the
 * Relu's output anyway) - unless its input cannot be negative (it follows another Relu through
 * sign-keeping ops), when everything a correction moves is positive already and passes whole. An
 * operator with no rule (Sigmoid, a product of two activations, a Transpose ...) stops the shift: a
 * layer behind one takes its shift as measured (and the report says so).
 * <p>
 * <b>Solving.</b> In graph order, each layer gets the shift that leaves its output mean at FP32's
 * once the corrections before it are in:
 * <pre>  shift_L = target_L - (mean_c(layer_L(E[x_q,L])) + bias_L) - A_L d_x,L      d_y,L = A_L d_x,L + shift_L</pre>
 */
final class MeanModel {
    /** The part of a layer that is linear in its input, acting on means. */
    interface Linear {
        /** Per output channel, the mean of the layer's output without bias for the element-wise mean input {@code m} ([1, ...]). */
        float[] mean(Tensor m);

        /** Per output channel, how much a shift {@code d[i]}, uniform over input channel i, moves the output mean. */
        float[] apply(float[] d);

        int inChannels();

        /** Output shape without the batch axis. */
        long[] outShape();
    }

    /** The shift of each layer (null: no estimate) and notes on layers whose inputs could not be followed. */
    record Solution(List<float[]> shifts, List<String> notes) {}

    private final Graph g, fp32;
    /** A private copy of the quantized graph for {@link #prepare}, which may run on another thread. */
    private final Graph own;
    private final List<QuantizedLayer> layers;
    private final Statistics fpMeans;
    private final int samples;
    private final Map<Node, Integer> layerAt = new IdentityHashMap<>();
    private final Set<Node> biasAdds = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Linear> quantized = new ArrayList<>();
    private final List<float[]> targets = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final List<Node> gated = new ArrayList<>();
    private final Map<Node, Linear> others = new IdentityHashMap<>();
    /** Per gated node, per channel, the share of values it lets through (from FP32's Relu output). */
    private final Map<Node, float[]> gates = new IdentityHashMap<>();
    private final Map<String, long[]> inputShapes = new HashMap<>();

    /**
     * @param q       the quantized model's graph (its structure; biases are read at every solve)
     * @param fp32    the FP32 graph
     * @param fpMeans the FP32 mean inputs of the layers ({@link #fp32Requests})
     */
    MeanModel(Graph q, Graph fp32, List<QuantizedLayer> layers, Statistics fpMeans, int samples) {
        this.g = q;
        this.own = q.copy();
        this.fp32 = fp32;
        this.layers = layers;
        this.fpMeans = fpMeans;
        this.samples = samples;
        Map<String, FirstSamplesMeanSpec> specs = fp32Specs(fp32, layers.stream().map(QuantizedLayer::layer).toList(), samples);
        for (int i = 0; i < layers.size(); i++) {
            QuantizedLayer l = layers.get(i);
            layerAt.put(l.node(), i);
            if (!l.output().equals(l.node().output(0))) biasAdds.add(q.producer(l.output()));
            inputShapes.put(l.node().input(0), fp32Means(l).mean().shape());
        }
        Set<String> reached = new HashSet<>();
        for (Node n : q.nodes()) {
            Integer li = layerAt.get(n);
            if (li != null) {
                if (elementwise(layers.get(li).layer())) reached.add(layers.get(li).output());
                continue;
            }
            if (biasAdds.contains(n) || n.inputs().stream().noneMatch(reached::contains)) continue;
            reached.addAll(n.outputs());
            // a Relu (or a QuantizeLinear clipping at 0) gates only what can be negative: behind another one it lets every shift through
            if ((n.opType().equals("Relu") || n.opType().equals("QuantizeLinear") && clipsBelow(n)) && !nonNegative(n.input(0), 16)) {
                gated.add(n);
                float[] share = positiveShare(n, specs);
                if (share != null) gates.put(n, share);
            }
        }
    }

    private FirstSamplesMeanSpec.Means fp32Means(QuantizedLayer l) {
        return (FirstSamplesMeanSpec.Means) fpMeans.get(new StatisticRequest(l.layer().input(), inputSpec(l.layer(), samples)));
    }

    /**
     * Prepares each layer's linear maps and FP32 target (the bulk of this model's own work; it can run
     * on another thread while the quantized model is measured: it reads only the FP32 graph and a copy
     * of the quantized one). Called by the first {@link #solve} if not before.
     */
    synchronized void prepare() {
        if (!quantized.isEmpty() || layers.isEmpty()) return;
        for (QuantizedLayer l : layers) {
            Linear lq = null;
            float[] target = null;
            try {
                Tensor mf = fp32Means(l).mean();
                long[] in = dropBatch(mf.shape());
                Node fn = fp32.node(l.layer().name()).orElseThrow();
                Linear lf = linear(fn, fp32, in);
                lq = linear(l.node(), own, in);
                if (lf == null || lq == null) throw new IllegalArgumentException("unsupported layer");
                target = lf.mean(mf);
                float[] fb = fp32Bias(fn, fp32, l.layer());
                if (fb != null) for (int c = 0; c < target.length; c++) target[c] += fb[c];
            } catch (RuntimeException e) {
                lq = null;
                problems.add(l.layer().name() + ": not estimated (" + e.getMessage() + ")");
            }
            quantized.add(lq);
            targets.add(target);
        }
    }

    /** Shape of each layer input's mean ([1, ...]) by the quantized model's tensor name. */
    Map<String, long[]> inputShapes() { return inputShapes; }

    /**
     * The FP32 statistics the model needs: each layer's mean input over all samples and over the first
     * {@code samples} apart; and for every Relu output, the share of positive values (which a Relu folded
     * into a QuantizeLinear lets through).
     */
    static List<StatisticRequest> fp32Requests(Graph fp32, List<Layer> layers, int samples) {
        return fp32Specs(fp32, layers, samples).entrySet().stream().map(e -> new StatisticRequest(e.getKey(), e.getValue())).toList();
    }

    private static Map<String, FirstSamplesMeanSpec> fp32Specs(Graph fp32, List<Layer> layers, int samples) {
        Map<String, FirstSamplesMeanSpec> specs = new java.util.LinkedHashMap<>();
        for (Layer l : layers) specs.putIfAbsent(l.input(), inputSpec(l, samples));
        for (Node n : fp32.nodes())
            if (n.opType().equals("Relu") && n.domain().isEmpty()) specs.putIfAbsent(n.output(0), new FirstSamplesMeanSpec(samples, -1));
        return specs;
    }

    static FirstSamplesMeanSpec inputSpec(Layer l, int samples) {
        return new FirstSamplesMeanSpec(samples, elementwise(l) ? -1 : l.inputSpec().channelAxis());
    }

    /** Whether a layer's means are kept element by element (Conv, Gemm, 2-D MatMul) rather than per feature of a sequence. */
    static boolean elementwise(Layer l) {
        int a = l.inputSpec().channelAxis();
        return a < 0 || a == 1;
    }

    /**
     * The share of values a gated node lets through, per channel: FP32's share of positive values at the
     * Relu it stands for (the Relu reading the same tensor in the FP32 model, or the Relu itself); null if unknown.
     */
    private float[] positiveShare(Node n, Map<String, FirstSamplesMeanSpec> specs) {
        String relu = null;
        if (n.opType().equals("Relu") && specs.containsKey(n.output(0))) relu = n.output(0);
        else for (Node c : fp32.consumers(n.input(0))) if (c.opType().equals("Relu") && specs.containsKey(c.output(0))) relu = c.output(0);
        if (relu == null) return null;
        StatisticRequest r = new StatisticRequest(relu, specs.get(relu));
        return fpMeans.has(r) ? ((FirstSamplesMeanSpec.Means) fpMeans.get(r)).positive() : null;
    }

    /** Whether {@code tensor} cannot be negative: behind a Relu or a QuantizeLinear clipping at 0, through ops that keep signs. */
    private boolean nonNegative(String tensor, int depth) {
        Node p = g.producer(tensor);
        if (p == null || depth == 0) return false;
        switch (p.opType()) {
            case "Relu": return true;
            case "DequantizeLinear": {
                Node q = g.producer(p.input(0));
                return q != null && q.opType().equals("QuantizeLinear") && clipsBelow(q) && p.input(2).equals(q.input(2));
            }
            case "QuantizeLinear": case "Identity": case "Flatten": case "Reshape": case "Squeeze": case "Unsqueeze": case "Transpose":
            case "GlobalAveragePool": case "GlobalMaxPool": case "AveragePool": case "MaxPool": case "Slice":
                return nonNegative(p.input(0), depth - 1);
            case "Concat": case "Add": case "Max":
                return p.inputs().stream().allMatch(i -> g.isInitializer(i) ? g.initializer(i).get().dtype().isFloatingPoint()
                        && allNonNegative(g.initializer(i).get()) : nonNegative(i, depth - 1));
            default: return false;
        }
    }

    private static boolean allNonNegative(Tensor t) {
        for (float v : t.floats()) if (v < 0) return false;
        return true;
    }

    /** A QuantizeLinear whose zero point is its type's lowest value (or absent: uint8 0), i.e. with a Relu folded in. */
    private boolean clipsBelow(Node q) {
        String zp = q.input(2);
        if (zp.isEmpty()) return true;
        Tensor z = g.initializer(zp).orElse(null);
        if (z == null) return false;
        long lo = switch (z.dtype()) { case INT8 -> Byte.MIN_VALUE; case INT16 -> Short.MIN_VALUE; default -> 0; };
        for (long v : z.longs()) if (v == lo) return true;
        return false;
    }

    /**
     * Solves for the shifts of the layers of {@code current} ({@code now}: the layers re-found in it,
     * in this model's order) from measured means. A layer whose {@code enabled} entry is false is left
     * as it is; so is one {@code rejects} refuses, and its entry is set to false.
     */
    Solution solve(Map<String, Tensor> means, Model current, List<QuantizedLayer> now, boolean[] enabled,
                   BiPredicate<QuantizedLayer, float[]> rejects) {
        prepare();
        List<String> notes = new ArrayList<>(problems);
        Map<String, float[]> d = new HashMap<>();
        Map<String, long[]> shape = new HashMap<>();
        Set<String> unknown = new HashSet<>();
        means.forEach((x, m) -> shape.put(x, dropBatch(m.shape())));
        List<float[]> shifts = new ArrayList<>(Collections.nCopies(layers.size(), null));
        for (Node n : g.nodes()) {
            Integer li = layerAt.get(n);
            if (li != null) {
                layer(li, means, current, now, enabled, rejects, d, shape, unknown, shifts, notes);
                continue;
            }
            if (biasAdds.contains(n) || n.inputs().stream().noneMatch(i -> d.containsKey(i) || unknown.contains(i))) continue;
            if (n.inputs().stream().anyMatch(unknown::contains) || !propagate(n, d, shape)) {
                for (String o : n.outputs()) { unknown.add(o); d.remove(o); }
            }
        }
        return new Solution(shifts, notes);
    }

    private void layer(int i, Map<String, Tensor> means, Model current, List<QuantizedLayer> now, boolean[] enabled,
                       BiPredicate<QuantizedLayer, float[]> rejects, Map<String, float[]> d, Map<String, long[]> shape,
                       Set<String> unknown, List<float[]> shifts, List<String> notes) {
        QuantizedLayer l = layers.get(i), cur = now.get(i);
        Linear lq = quantized.get(i);
        String x = l.node().input(0);
        Tensor m = means.get(x);
        if (lq == null || cur == null || m == null) {
            unknown.add(l.output());
            return;
        }
        float[] mean = lq.mean(m);
        float[] bias = cur.bias(current.graph());
        float[] dx = d.get(x), moved = null;
        if (dx != null && dx.length == lq.inChannels()) moved = lq.apply(dx);
        else if (dx != null || unknown.contains(x))
            notes.add(l.layer().name() + ": the mean model does not follow the corrections before it to its input (an operator without a rule, "
                    + "or a layer over a sequence before it); its shift is taken as measured");
        float[] t = targets.get(i);
        float[] shift = new float[t.length];
        for (int c = 0; c < t.length; c++)
            shift[c] = t[c] - mean[c] - (bias == null ? 0 : bias[c] * cur.biasGain()) - (moved == null ? 0 : moved[c]);
        shifts.set(i, shift);
        if (enabled[i] && rejects.test(cur, shift)) enabled[i] = false;
        if (!elementwise(l.layer())) {
            unknown.add(l.output());
            return;
        }
        float[] dy = moved == null ? new float[t.length] : moved;
        if (enabled[i]) for (int c = 0; c < t.length; c++) dy[c] += shift[c];
        d.put(l.output(), dy);
        shape.put(l.output(), lq.outShape());
    }

    /** Puts the shift of {@code n}'s output; false when there is no rule for {@code n}. */
    private boolean propagate(Node n, Map<String, float[]> d, Map<String, long[]> shape) {
        String op = n.domain().isEmpty() ? n.opType() : "?";
        String in = n.input(0), out = n.outputs().isEmpty() ? "" : n.output(0);
        float[] a = d.get(in);
        long[] s = shape.get(in);
        switch (op) {
            case "QuantizeLinear": case "DequantizeLinear": case "Identity": case "Relu": {
                if (a == null) return false;
                if (gated.contains(n)) {
                    float[] f = gates.get(n);
                    if (f == null || f.length != a.length) return false;
                    a = a.clone();
                    for (int c = 0; c < a.length; c++) a[c] *= f[c];
                }
                return put(d, shape, out, a, s);
            }
            case "Add": case "Sub": {
                float[] b = d.get(n.input(1));
                long[] sb = shape.get(n.input(1));
                if (a != null && b != null) {
                    if (a.length != b.length) return false;
                    float[] c = new float[a.length];
                    for (int k = 0; k < c.length; k++) c[k] = op.equals("Add") ? a[k] + b[k] : a[k] - b[k];
                    return put(d, shape, out, c, s != null ? s : sb);
                }
                if (a != null) return put(d, shape, out, a, s);
                float[] c = b.clone();
                if (op.equals("Sub")) for (int k = 0; k < c.length; k++) c[k] = -c[k];
                return put(d, shape, out, c, sb);
            }
            case "Mul": case "Div": {
                int moving = a != null ? 0 : 1;
                float[] v = d.get(n.input(moving));
                Tensor k = g.initializer(n.input(1 - moving)).orElse(null);
                if (v == null || k == null || !k.dtype().isFloatingPoint() || op.equals("Div") && moving == 1) return false;
                float[] f = k.floats();
                if (f.length != 1 && f.length != v.length) return false;
                float[] c = new float[v.length];
                for (int j = 0; j < c.length; j++) {
                    float kv = f[f.length == 1 ? 0 : j];
                    c[j] = op.equals("Mul") ? v[j] * kv : v[j] / kv;
                }
                return put(d, shape, out, c, shape.get(n.input(moving)));
            }
            case "GlobalAveragePool": case "GlobalMaxPool": {
                if (a == null) return false;
                long[] o = null;
                if (s != null) { o = s.clone(); for (int k = 1; k < o.length; k++) o[k] = 1; }
                return put(d, shape, out, a, o);
            }
            case "MaxPool": case "AveragePool":
                if (a == null || n.outputs().size() > 1 && !n.output(1).isEmpty()) return false;
                return put(d, shape, out, a, poolShape(n, s));
            case "Pad":
                return a != null && put(d, shape, out, a, null);
            case "Concat": {
                long axis = n.attrLong("axis", 1);
                if (s != null && axis < 0) axis += s.length + 1;
                if (axis != 1) return false;
                List<float[]> parts = new ArrayList<>();
                long[] o = null;
                int total = 0;
                for (String i : n.inputs()) {
                    float[] p = d.get(i);
                    long[] si = shape.get(i);
                    if (p == null) {
                        Tensor k = g.initializer(i).orElse(null);
                        if (si == null && k != null) si = dropBatch(k.shape());
                        if (si == null || si.length == 0) return false;
                        p = new float[(int) si[0]];
                    }
                    parts.add(p);
                    total += p.length;
                    if (si != null) {
                        if (o == null) { o = si.clone(); o[0] = 0; }
                        o[0] += si[0];
                    }
                }
                float[] c = new float[total];
                int at = 0;
                for (float[] p : parts) { System.arraycopy(p, 0, c, at, p.length); at += p.length; }
                if (o != null && o[0] != total) o = null;
                return put(d, shape, out, c, o);
            }
            case "Flatten": case "Reshape": {
                if (a == null || s == null) return false;
                long rest = 1;
                for (int k = 1; k < s.length; k++) rest *= s[k];
                if (op.equals("Flatten")) {
                    if (n.attrLong("axis", 1) != 1) return false;
                } else {
                    Tensor target = Layer.constant(g, n.input(1));
                    if (target == null) return false;
                    long[] t = target.longs();
                    // to [batch, features]: the batch stays (0 or -1 with the rest fixed), one axis holds everything else
                    if (t.length != 2 || !(t[1] == -1 || t[1] == s[0] * rest) || t[0] > 0 && t[1] == -1) return false;
                }
                float[] c = new float[(int) (a.length * rest)];
                for (int ch = 0; ch < a.length; ch++) Arrays.fill(c, (int) (ch * rest), (int) ((ch + 1) * rest), a[ch]);
                return put(d, shape, out, c, new long[]{a.length * rest});
            }
            case "Conv": case "Gemm": case "MatMul": {
                if (a == null || s == null || n.inputs().stream().skip(1).anyMatch(d::containsKey)) return false;
                Linear lin = others.computeIfAbsent(n, k -> linear(n, g, s));
                if (lin == null || lin.inChannels() != a.length) return false;
                return put(d, shape, out, lin.apply(a), lin.outShape());
            }
            default:
                return false;
        }
    }

    private static long[] poolShape(Node n, long[] in) {
        if (in == null) return null;
        try {
            return Geometry.of(n, in, null).outShape(in[0]);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static boolean put(Map<String, float[]> d, Map<String, long[]> shape, String out, float[] v, long[] s) {
        d.put(out, v);
        if (s != null) shape.put(out, s);
        else shape.remove(out);
        return true;
    }

    static long[] dropBatch(long[] s) { return Arrays.copyOfRange(s, 1, s.length); }

    /** The FP32 layer's bias times its gain, per output channel; null without one. */
    private static float[] fp32Bias(Node fn, Graph fg, Layer l) {
        if (!l.hasBias()) return null;
        Tensor b;
        float gain = 1f;
        if (fn.opType().equals("MatMul")) {
            Node add = fg.producer(l.output());
            b = weights(fg, add.input(0).equals(fn.output(0)) ? add.input(1) : add.input(0));
        } else {
            b = weights(fg, fn.input(2));
            if (fn.opType().equals("Gemm")) gain = fn.attrFloat("beta", 1f);
        }
        if (b == null) return null;
        float[] v = b.floats();
        for (int c = 0; c < v.length; c++) v[c] *= gain;
        return v;
    }

    /** A constant tensor as floats: an initializer, or the DequantizeLinear of one; null otherwise. */
    static Tensor weights(Graph g, String name) {
        if (name.isEmpty()) return null;
        if (g.isInitializer(name)) return g.initializer(name).get().to(org.ptq4j.spi.tensor.DType.FLOAT);
        Node dq = g.producer(name);
        if (dq == null || !dq.opType().equals("DequantizeLinear") || !g.isInitializer(dq.input(0))) return null;
        Tensor q = g.initializer(dq.input(0)).get();
        float[] v = q.floats();
        float[] s = g.initializer(dq.input(1)).orElseThrow().floats();
        float[] z = dq.input(2).isEmpty() ? new float[]{0} : g.initializer(dq.input(2)).orElseThrow().floats();
        long[] shape = q.shape();
        int axis = (int) dq.attrLong("axis", 1);
        if (axis < 0) axis += shape.length;
        int inner = 1;
        for (int k = axis + 1; k < shape.length; k++) inner *= (int) shape[k];
        int dim = s.length == 1 ? 1 : (int) shape[axis];
        for (int start = 0, c = 0; start < v.length; start += inner, c = (c + 1) % dim) {
            float sc = s[s.length == 1 ? 0 : c], zp = z[z.length == 1 ? 0 : c];
            for (int i = start; i < start + inner && i < v.length; i++) v[i] = (v[i] - zp) * sc;
        }
        return Tensor.ofFloats(shape, v);
    }

    /** The linear part of a Conv / Gemm / MatMul node with constant weights, for an input of shape {@code in} (no batch); null if unsupported. */
    static Linear linear(Node n, Graph g, long[] in) {
        Tensor w = weights(g, n.input(1));
        if (w == null) return null;
        switch (n.opType()) {
            case "Conv": return Geometry.of(n, in, w).conv(w, (int) in[0]);
            case "Gemm": {
                if (n.attrLong("transA", 0) != 0 || w.rank() != 2) return null;
                boolean tb = n.attrLong("transB", 0) == 1;
                int k = (int) (tb ? w.dim(1) : w.dim(0)), o = (int) (tb ? w.dim(0) : w.dim(1));
                return dense(w.floats(), k, o, tb, n.attrFloat("alpha", 1f));
            }
            case "MatMul": {
                if (w.rank() != 2) return null;
                return dense(w.floats(), (int) w.dim(0), (int) w.dim(1), false, 1f);
            }
            default: return null;
        }
    }

    /** {@code y = alpha * x W} with W [k, o] (or its transpose [o, k]). */
    private static Linear dense(float[] w, int k, int o, boolean transposed, float alpha) {
        float[][] a = new float[o][k];
        for (int i = 0; i < k; i++) for (int j = 0; j < o; j++) a[j][i] = alpha * (transposed ? w[j * k + i] : w[i * o + j]);
        return new Linear() {
            @Override public float[] mean(Tensor m) { return apply(m.floats()); }
            @Override public float[] apply(float[] d) {
                if (d.length != k) throw new IllegalArgumentException("input of " + d.length + " features for " + k);
                float[] y = new float[o];
                for (int j = 0; j < o; j++) { double s = 0; for (int i = 0; i < k; i++) s += a[j][i] * d[i]; y[j] = (float) s; }
                return y;
            }
            @Override public int inChannels() { return k; }
            @Override public long[] outShape() { return new long[]{o}; }
        };
    }

    /** Sliding-window geometry of a Conv or pool over an input [C, spatial...] with one or two spatial axes. */
    record Geometry(int h, int w, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int oh, int ow, int rank) {
        static Geometry of(Node n, long[] in, Tensor weight) {
            int spatial = in.length - 1;
            if (spatial < 1 || spatial > 2) throw new IllegalArgumentException(spatial + " spatial axes");
            List<Long> k = n.attribute("kernel_shape").map(x -> x.asLongs()).orElse(null);
            if (k == null && weight != null) {
                long[] ws = weight.shape();
                k = new ArrayList<>();
                for (int i = 2; i < ws.length; i++) k.add(ws[i]);
            }
            if (k == null || k.size() != spatial) throw new IllegalArgumentException("kernel shape");
            List<Long> st = n.attribute("strides").map(x -> x.asLongs()).orElse(Collections.nCopies(spatial, 1L));
            List<Long> dl = n.attribute("dilations").map(x -> x.asLongs()).orElse(Collections.nCopies(spatial, 1L));
            if (n.attrLong("ceil_mode", 0) != 0) throw new IllegalArgumentException("ceil_mode");
            long[] size = new long[2], ker = new long[2], str = new long[2], dil = new long[2], begin = new long[2], out = new long[2];
            Arrays.fill(size, 1); Arrays.fill(ker, 1); Arrays.fill(str, 1); Arrays.fill(dil, 1);
            String auto = n.attribute("auto_pad").map(x -> x.asString()).orElse("NOTSET");
            List<Long> pads = n.attribute("pads").map(x -> x.asLongs()).orElse(Collections.nCopies(2 * spatial, 0L));
            for (int i = 0; i < spatial; i++) {
                int j = i + 2 - spatial; // 1-D: the row axis has size 1
                size[j] = in[1 + i]; ker[j] = k.get(i); str[j] = st.get(i); dil[j] = dl.get(i);
                long extent = (ker[j] - 1) * dil[j] + 1;
                switch (auto) {
                    case "SAME_UPPER", "SAME_LOWER" -> {
                        out[j] = (size[j] + str[j] - 1) / str[j];
                        long total = Math.max(0, (out[j] - 1) * str[j] + extent - size[j]);
                        begin[j] = auto.equals("SAME_UPPER") ? total / 2 : total - total / 2;
                    }
                    case "VALID" -> { begin[j] = 0; out[j] = (size[j] - extent) / str[j] + 1; }
                    default -> { begin[j] = pads.get(i); out[j] = (size[j] + pads.get(i) + pads.get(i + spatial) - extent) / str[j] + 1; }
                }
            }
            if (spatial == 1) out[0] = 1;
            return new Geometry((int) size[0], (int) size[1], (int) ker[0], (int) ker[1], (int) str[0], (int) str[1], (int) dil[0], (int) dil[1],
                    (int) begin[0], (int) begin[1], (int) out[0], (int) out[1], spatial);
        }

        long[] outShape(long channels) {
            return rank == 1 ? new long[]{channels, ow} : new long[]{channels, oh, ow};
        }

        /** Output rows at which kernel row {@code a} reads inside the input. */
        int insideRows(int a) { return inside(a, kh, dh, sh, pt, h, oh); }

        int insideCols(int b) { return inside(b, kw, dw, sw, pl, w, ow); }

        private static int inside(int a, int k, int d, int s, int p, int size, int out) {
            int n = 0;
            for (int o = 0; o < out; o++) { int i = o * s - p + a * d; if (i >= 0 && i < size) n++; }
            return n;
        }

        /** S[a][b] = sum of one input channel {@code m[off ...]} over the positions tap (a, b) reads. */
        double[] tapSums(float[] m, int off) {
            // per row: the sum over the columns tap column b reads (a run of stride sw), then over the rows tap row a reads
            double[] rows = new double[h * kw], prefix = sw == 1 ? new double[w + 1] : null;
            int[] colFirst = new int[kw], colCount = new int[kw];
            for (int b = 0; b < kw; b++) { colFirst[b] = colFirst(b); colCount[b] = insideCols(b); }
            for (int r = 0; r < h; r++) {
                int base = off + r * w;
                if (prefix != null) {
                    double acc = 0;
                    for (int c = 0; c < w; c++) { acc += m[base + c]; prefix[c + 1] = acc; }
                }
                for (int b = 0; b < kw; b++) {
                    int first = colFirst[b], n = colCount[b];
                    if (n == 0) continue;
                    double s;
                    if (prefix != null) s = prefix[first + n] - prefix[first];
                    else { s = 0; for (int k = 0, c = base + first; k < n; k++, c += sw) s += m[c]; }
                    rows[r * kw + b] = s;
                }
            }
            double[] taps = new double[kh * kw];
            for (int a = 0; a < kh; a++) {
                int first = rowFirst(a), n = insideRows(a);
                for (int k = 0, r = first; k < n; k++, r += sh)
                    for (int b = 0; b < kw; b++) taps[a * kw + b] += rows[r * kw + b];
            }
            return taps;
        }

        /** The first input column kernel column {@code b} reads inside the input (its runs are {@code sw} apart). */
        private int colFirst(int b) { return firstInside(b, dw, sw, pl, w, ow); }

        private int rowFirst(int a) { return firstInside(a, dh, sh, pt, h, oh); }

        private static int firstInside(int a, int d, int s, int p, int size, int out) {
            for (int o = 0; o < out; o++) { int i = o * s - p + a * d; if (i >= 0 && i < size) return i; }
            return 0;
        }

        /** A Conv with {@code weight} [C_out, C_in / groups, kh(, kw)] over {@code inChannels} input channels. */
        Linear conv(Tensor weight, int inChannels) {
            long[] ws = weight.shape();
            int cout = (int) ws[0], cinG = (int) ws[1], taps = kh * kw;
            float[] wv = weight.floats();
            if (wv.length != (long) cout * cinG * taps) throw new IllegalArgumentException("weight shape " + Arrays.toString(ws));
            int groups = inChannels / cinG;
            if (groups * cinG != inChannels || cout % groups != 0) throw new IllegalArgumentException("groups");
            int perGroup = cout / groups;
            double positions = (double) oh * ow;
            double[] share = new double[taps];
            for (int p = 0; p < kh; p++) for (int q = 0; q < kw; q++) share[p * kw + q] = insideRows(p) * (double) insideCols(q) / positions;
            float[][] a = new float[cout][inChannels];
            for (int o = 0; o < cout; o++) {
                int base = (o / perGroup) * cinG;
                for (int i = 0; i < cinG; i++) {
                    double s = 0;
                    for (int t = 0; t < taps; t++) s += wv[(o * cinG + i) * taps + t] * share[t];
                    a[o][base + i] = (float) s;
                }
            }
            return new Linear() {
                @Override public float[] mean(Tensor m) {
                    float[] v = m.floats();
                    int plane = h * w;
                    if (v.length != (long) inChannels * plane) throw new IllegalArgumentException("mean input of " + v.length + " values");
                    double[] y = new double[cout];
                    for (int c = 0; c < inChannels; c++) {
                        double[] s = tapSums(v, c * plane);
                        int group = c / cinG, i = c - group * cinG;
                        for (int o = group * perGroup; o < (group + 1) * perGroup; o++) {
                            double acc = 0;
                            for (int t = 0; t < taps; t++) acc += wv[(o * cinG + i) * taps + t] * s[t];
                            y[o] += acc;
                        }
                    }
                    float[] r = new float[cout];
                    for (int o = 0; o < cout; o++) r[o] = (float) (y[o] / positions);
                    return r;
                }

                @Override public float[] apply(float[] d) {
                    float[] y = new float[cout];
                    for (int o = 0; o < cout; o++) { double s = 0; for (int i = 0; i < d.length; i++) s += a[o][i] * d[i]; y[o] = (float) s; }
                    return y;
                }

                @Override public int inChannels() { return inChannels; }

                @Override public long[] outShape() { return Geometry.this.outShape(cout); }
            };
        }
    }
}
