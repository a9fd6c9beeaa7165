package org.ptq4j.spi.quant;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.Optional;

/**
 * A typed view of one quantized layer of a QDQ model, as ptq4j's quantizers write it (docs/ARCHITECTURE.md,
 * "Quantized layer"): a Conv / Gemm / MatMul whose weight input is {@code DequantizeLinear(int8 W, scale,
 * zero point[, axis])} and whose Conv / Gemm bias, when present, is {@code DequantizeLinear(int32 b,
 * s_x * s_w[c], 0)}. For AdaRound-, GPTQ- or clipping-style algorithms: read the integer weights and their
 * grid, compute new ones, and {@link #replace} them; the int32 bias is rescaled to the new weight scales so
 * the float bias it stands for is kept, and ONNX Runtime still fuses the layer into its integer kernel.
 *
 * @param node        the layer's node name
 * @param weights     int8 weight values (the weight's shape, row-major)
 * @param shape       the weight's shape
 * @param scales      weight scales, one per channel along {@code axis} (one when per tensor)
 * @param zeroPoints  weight zero points, same length
 * @param axis        the channel axis of {@code scales} ({@code -1}: per tensor)
 * @param bias        int32 bias values, or null when the layer has no quantized bias
 * @param biasScales  the bias's scales ({@code s_x * s_w[c]}), or null
 */
public record QuantizedLayer(String node, byte[] weights, long[] shape, float[] scales, int[] zeroPoints, int axis,
                             int[] bias, float[] biasScales) {

    /** The view of {@code nodeName} in {@code model}, or empty when it is not a quantized layer. */
    public static Optional<QuantizedLayer> of(Model model, String nodeName) {
        Graph g = model.graph();
        Node n = g.node(nodeName).orElse(null);
        if (n == null || n.inputs().size() < 2) return Optional.empty();
        Node dq = g.producer(n.input(1));
        if (dq == null || !dq.opType().equals("DequantizeLinear")) return Optional.empty();
        Tensor w = g.initializer(dq.input(0)).orElse(null);
        Tensor s = g.initializer(dq.input(1)).orElse(null);
        if (w == null || s == null || w.dtype() != DType.INT8) return Optional.empty();
        int[] zp = new int[(int) s.numElements()];
        if (dq.inputs().size() > 2 && !dq.input(2).isEmpty()) {
            long[] z = g.initializer(dq.input(2)).orElseThrow().longs();
            for (int i = 0; i < zp.length; i++) zp[i] = (int) z[i];
        }
        int axis = s.rank() == 0 || s.numElements() == 1 ? -1 : (int) dq.attrLong("axis", 1);
        if (axis < -1) axis += w.rank();
        byte[] q = new byte[(int) w.numElements()];
        w.bytes().get(0, q);
        int[] bias = null;
        float[] biasScales = null;
        Node bdq = n.inputs().size() > 2 && !n.input(2).isEmpty() ? g.producer(n.input(2)) : null;
        if (bdq != null && bdq.opType().equals("DequantizeLinear")) {
            Tensor b = g.initializer(bdq.input(0)).orElse(null);
            Tensor bs = g.initializer(bdq.input(1)).orElse(null);
            if (b != null && bs != null && b.dtype() == DType.INT32) {
                long[] bl = b.longs();
                bias = new int[bl.length];
                for (int i = 0; i < bl.length; i++) bias[i] = (int) bl[i];
                float[] sc = bs.floats();
                biasScales = sc.length == bias.length ? sc : filled(bias.length, sc[0]);
            }
        }
        return Optional.of(new QuantizedLayer(nodeName, q, w.shape(), s.floats(), zp, axis, bias, biasScales));
    }

    private static float[] filled(int n, float v) {
        float[] f = new float[n];
        Arrays.fill(f, v);
        return f;
    }

    /** The weights as floats: {@code (q - zp) * scale} per channel. */
    public float[] dequantized() {
        float[] f = new float[weights.length];
        long inner = 1;
        if (axis >= 0) for (int i = axis + 1; i < shape.length; i++) inner *= shape[i];
        for (int i = 0; i < f.length; i++) {
            int c = axis < 0 ? 0 : (int) ((i / inner) % shape[axis]);
            f[i] = (weights[i] - zeroPoints[c]) * scales[c];
        }
        return f;
    }

    /**
     * Writes new int8 weights and scales (same shape, axis and zero points) into {@code model} in place. The
     * int32 bias, when present, is re-expressed on the new scales ({@code b * s_old / s_new}, rounded), so the
     * float bias is unchanged up to one step. Other readers of the same initializers are not allowed.
     */
    public void replace(Model model, byte[] newWeights, float[] newScales) {
        if (newWeights.length != weights.length) throw new PtqException(node + ": " + newWeights.length + " weights given, the layer has " + weights.length);
        if (newScales.length != scales.length) throw new PtqException(node + ": " + newScales.length + " scales given, the layer has " + scales.length);
        Graph g = model.graph();
        Node n = g.node(node).orElseThrow(() -> new PtqException("layer '" + node + "' is not in the model"));
        Node dq = g.producer(n.input(1));
        if (g.consumers(dq.input(0)).size() != 1 || g.consumers(dq.input(1)).size() != 1)
            throw new PtqException(node + ": its weight initializers are shared with other nodes; copy them first");
        g.initializers().put(dq.input(0), Tensor.ofBytes(DType.INT8, shape, newWeights));
        Tensor oldS = g.initializer(dq.input(1)).orElseThrow();
        g.initializers().put(dq.input(1), Tensor.ofFloats(oldS.shape(), newScales));
        if (bias != null) {
            Node bdq = g.producer(n.input(2));
            Tensor oldB = g.initializer(bdq.input(0)).orElseThrow(), oldBs = g.initializer(bdq.input(1)).orElseThrow();
            int[] nb = new int[bias.length];
            float[] ns = new float[bias.length];
            for (int c = 0; c < bias.length; c++) {
                float ratio = newScales[newScales.length == 1 ? 0 : c] / scales[scales.length == 1 ? 0 : c];
                ns[c] = biasScales[c] * ratio;
                nb[c] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, Math.rint(bias[c] * (double) biasScales[c] / ns[c])));
            }
            g.initializers().put(bdq.input(0), Tensor.ofInts(oldB.shape(), nb));
            g.initializers().put(bdq.input(1), oldBs.rank() == 0 ? Tensor.scalarFloat(ns[0]) : Tensor.ofFloats(oldBs.shape(), ns));
        }
        g.touch();
    }
}
