package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * A {@link Layer} as found in the quantized model, and the edit of its bias.
 * <p>
 * The bias is read and written where the quantizer left it: a float initializer (Gemm {@code C},
 * the bias Add of a MatMul), or an integer initializer behind a {@code DequantizeLinear} (Conv/Gemm
 * bias as INT32 with scale {@code s_x * s_w[c]}), whose integers are updated so that the graph stays fusable.
 *
 * @param layer    the FP32 layer
 * @param node     the layer node in the quantized graph
 * @param output   the quantized layer's output (after the bias Add for MatMul + Add)
 * @param biasTensor the tensor in the layer's bias slot ("" when the layer has no bias)
 * @param biasGain factor the bias is multiplied by in the output (Gemm {@code beta}, else 1)
 */
record QuantizedLayer(Layer layer, Node node, String output, String biasTensor, float biasGain) {

    /** Finds {@code layer} in the quantized graph; null when its weights are not quantized or its shape is unexpected. */
    static QuantizedLayer find(Layer layer, Graph q) {
        Node n = q.node(layer.name()).orElse(null);
        if (n == null || !n.opType().equals(layer.opType())) return null;
        Node wdq = q.producer(n.input(1));
        if (wdq == null || !wdq.opType().equals("DequantizeLinear")) return null; // weights not quantized
        String out = n.output(0), bias = "";
        float gain = 1f;
        switch (n.opType()) {
            case "Conv": bias = n.input(2); break;
            case "Gemm": bias = n.input(2); gain = n.attrFloat("beta", 1f); break;
            default: {
                Node add = Layer.biasAdd(n, q);
                if (add != null) {
                    out = add.output(0);
                    bias = add.input(0).equals(n.output(0)) ? add.input(1) : add.input(0);
                }
            }
        }
        if (!bias.isEmpty() && Layer.constant(q, bias) == null) return null;
        if (layer.hasBias() && bias.isEmpty()) return null; // the quantizer moved the bias out of reach: the output mean would not match
        return new QuantizedLayer(layer, n, out, bias, gain);
    }

    boolean hasBias() { return !biasTensor.isEmpty(); }

    /**
     * Where the bias is stored in {@code q}: the initializer holding it (INT32 behind the bias's
     * DequantizeLinear, or float) and the node that reads that initializer (the DequantizeLinear; else
     * the layer, or a MatMul's bias Add). Null without a bias.
     */
    BiasStorage biasStorage(Graph q) {
        if (!hasBias()) return null;
        if (q.isInitializer(biasTensor))
            return new BiasStorage(biasTensor, q.consumers(biasTensor).stream().filter(n -> n == node || n.inputs().contains(node.output(0))).findFirst().orElse(node));
        Node dq = q.producer(biasTensor);
        return dq == null ? null : new BiasStorage(dq.input(0), dq);
    }

    /** @see #biasStorage */
    record BiasStorage(String initializer, Node reader) {}

    /** The current bias per output channel, dequantized; null without a bias. */
    float[] bias(Graph q) {
        if (!hasBias()) return null;
        if (q.isInitializer(biasTensor)) return q.initializer(biasTensor).get().floats();
        Node dq = q.producer(biasTensor);
        float[] v = q.initializer(dq.input(0)).get().floats();
        float[] s = scales(q, dq, v.length);
        float[] zp = zeroPoints(q, dq, v.length);
        for (int c = 0; c < v.length; c++) v[c] = (v[c] - zp[c]) * s[c];
        return v;
    }

    /**
     * Moves the layer's output mean by {@code shift[c]} per channel by editing (or, without one,
     * adding) its bias. Returns the shift actually applied (integer biases round it).
     */
    float[] shiftOutput(Model model, float[] shift) {
        Graph q = model.graph();
        float[] delta = new float[shift.length];
        for (int c = 0; c < shift.length; c++) delta[c] = shift[c] / biasGain;
        if (!hasBias()) return addBias(model, delta);
        if (q.isInitializer(biasTensor)) {
            Tensor old = q.initializer(biasTensor).get();
            float[] v = old.floats();
            for (int c = 0; c < v.length; c++) v[c] += delta[c];
            replaceInitializer(q, biasTensor, Tensor.ofFloats(old.shape(), v).to(old.dtype()));
            return applied(delta);
        }
        Node dq = q.producer(biasTensor);
        Tensor old = q.initializer(dq.input(0)).get();
        long[] ints = old.longs();
        float[] s = scales(q, dq, ints.length);
        long lo = min(old.dtype()), hi = max(old.dtype());
        float[] done = new float[ints.length];
        for (int c = 0; c < ints.length; c++) {
            long step = Math.round(delta[c] / s[c]);
            long nv = Math.max(lo, Math.min(hi, ints[c] + step));
            done[c] = (nv - ints[c]) * s[c];
            ints[c] = nv;
        }
        replaceInitializer(q, dq.input(0), Tensor.ofLongs(old.shape(), ints).to(old.dtype()));
        return applied(done);
    }

    private float[] applied(float[] delta) {
        float[] a = delta.clone();
        for (int c = 0; c < a.length; c++) a[c] *= biasGain;
        return a;
    }

    /** Adds a bias equal to {@code delta}: INT32 behind a DequantizeLinear when input and weight scales are known, else float. */
    private float[] addBias(Model model, float[] delta) {
        Graph q = model.graph();
        String base = layer.name().isEmpty() ? "layer" : layer.name();
        if (layer.opType().equals("MatMul")) {
            String mm = q.uniqueName(node.output(0) + "_nobias");
            String init = q.uniqueName(base + "_bias");
            q.initializers().put(init, Tensor.ofFloats(new long[]{delta.length}, delta.clone()));
            String out = node.output(0);
            node.outputs().set(0, mm);
            Node add = Node.of(q.uniqueName(base + "_bias_add"), "Add", List.of(mm, init), List.of(out));
            q.nodes().add(q.nodes().indexOf(node) + 1, add);
            q.touch();
            return delta.clone();
        }
        while (node.inputs().size() < 3) node.inputs().add("");
        float[] s = biasScales(q, delta.length);
        if (s == null) {
            String init = q.uniqueName(base + "_bias");
            q.initializers().put(init, Tensor.ofFloats(new long[]{delta.length}, delta.clone()));
            node.inputs().set(2, init);
            q.touch();
            return delta.clone();
        }
        int[] ints = new int[delta.length];
        float[] done = new float[delta.length];
        for (int c = 0; c < ints.length; c++) {
            ints[c] = (int) Math.round(delta[c] / s[c]);
            done[c] = ints[c] * s[c];
        }
        String intName = q.uniqueName(base + "_bias_quantized"), scaleName = q.uniqueName(base + "_bias_scale");
        String dqOut = q.uniqueName(base + "_bias_dequantized");
        q.initializers().put(intName, Tensor.ofInts(new long[]{ints.length}, ints));
        q.initializers().put(scaleName, Tensor.ofFloats(new long[]{s.length}, s));
        Node dq = Node.of(q.uniqueName(base + "_bias_DequantizeLinear"), "DequantizeLinear", List.of(intName, scaleName), List.of(dqOut));
        dq.set(Attribute.of("axis", 0L));
        q.addNodeBefore(node, dq);
        node.inputs().set(2, dqOut);
        q.touch();
        return applied(done);
    }

    /** s_x * s_w[c] for a Conv/Gemm whose input and weight come from DequantizeLinear, else null. */
    private float[] biasScales(Graph q, int channels) {
        Node xdq = q.producer(node.input(0)), wdq = q.producer(node.input(1));
        if (xdq == null || !xdq.opType().equals("DequantizeLinear") || !q.isInitializer(xdq.input(1))) return null;
        Tensor sx = q.initializer(xdq.input(1)).get();
        if (sx.numElements() != 1 || !q.isInitializer(wdq.input(1))) return null;
        float[] sw = scales(q, wdq, channels);
        float[] s = new float[channels];
        for (int c = 0; c < channels; c++) s[c] = sx.floats()[0] * sw[c];
        return s;
    }

    /** A DequantizeLinear's scale expanded to one value per channel (per-tensor or per-axis scale). */
    private static float[] scales(Graph q, Node dq, int channels) {
        float[] s = q.initializer(dq.input(1)).orElseThrow(() -> new IllegalStateException("non-constant scale of " + dq.name())).floats();
        if (s.length == channels) return s;
        float[] out = new float[channels];
        Arrays.fill(out, s[0]);
        return out;
    }

    private static float[] zeroPoints(Graph q, Node dq, int channels) {
        float[] out = new float[channels];
        if (dq.input(2).isEmpty()) return out;
        float[] z = q.initializer(dq.input(2)).orElseThrow().floats();
        for (int c = 0; c < channels; c++) out[c] = z.length == channels ? z[c] : z[0];
        return out;
    }

    /** Replaces an initializer's value, under a new name when other nodes share it. */
    private void replaceInitializer(Graph q, String name, Tensor value) {
        if (q.consumers(name).size() <= 1) {
            q.initializers().put(name, value);
            return;
        }
        String fresh = q.uniqueName(name + "_" + (layer.name().isEmpty() ? "corrected" : layer.name()));
        q.initializers().put(fresh, value);
        java.util.Collections.replaceAll(biasStorage(q).reader().inputs(), name, fresh);
        q.touch();
    }

    private static long min(DType t) {
        return switch (t) { case INT8 -> Byte.MIN_VALUE; case UINT8 -> 0; case INT16 -> Short.MIN_VALUE; case INT32 -> Integer.MIN_VALUE; default -> Long.MIN_VALUE; };
    }

    private static long max(DType t) {
        return switch (t) { case INT8 -> Byte.MAX_VALUE; case UINT8 -> 255; case INT16 -> Short.MAX_VALUE; case INT32 -> Integer.MAX_VALUE; default -> Long.MAX_VALUE; };
    }
}
