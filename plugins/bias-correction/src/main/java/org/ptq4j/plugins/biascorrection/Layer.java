package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.stats.MeanSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A layer whose bias can be corrected, as found in the FP32 model: a Conv, a Gemm, or a MatMul
 * with a constant weight (followed by a bias Add when it has one).
 *
 * @param name       the layer node's name (kept by the quantizer)
 * @param opType     Conv, Gemm or MatMul
 * @param input      FP32 activation input tensor
 * @param output     FP32 output tensor whose mean the bias moves (the bias Add's output for MatMul + Add)
 * @param hasBias    whether the layer has a bias now
 * @param outAxis    output channel axis (1 for Conv and Gemm, the last for MatMul)
 * @param inputSpec  how the FP32 input is averaged: element-wise over samples (Conv, Gemm), or per feature (MatMul)
 * @param outputSpec how the FP32 output is averaged: per output channel
 */
record Layer(String name, String opType, String input, String output, boolean hasBias, int outAxis,
             MeanSpec inputSpec, MeanSpec outputSpec) {

    /** Operators whose bias this plugin corrects. */
    static boolean isCandidate(Node n, Graph g) {
        switch (n.opType()) {
            case "Conv": return n.domain().isEmpty() && g.isInitializer(n.input(1));
            case "Gemm": return n.domain().isEmpty() && g.isInitializer(n.input(1)) && n.attrLong("transA", 0) == 0;
            case "MatMul": return n.domain().isEmpty() && g.isInitializer(n.input(1)) && g.initializer(n.input(1)).get().rank() == 2;
            default: return false;
        }
    }

    /** The correctable layers of an FP32 model, in graph order; {@code withBiasOnly} drops layers without a bias. */
    static List<Layer> find(Graph fp32, boolean withBiasOnly) {
        List<Layer> out = new ArrayList<>();
        for (Node n : fp32.nodes()) {
            if (!isCandidate(n, fp32)) continue;
            Layer l = of(n, fp32);
            if (l != null && (l.hasBias || !withBiasOnly)) out.add(l);
        }
        return out;
    }

    private static Layer of(Node n, Graph g) {
        MeanSpec samples = MeanSpec.overSamples();
        switch (n.opType()) {
            case "Conv":
                return new Layer(n.name(), "Conv", n.input(0), n.output(0), !n.input(2).isEmpty(), 1, samples, MeanSpec.perChannel(1));
            case "Gemm": {
                boolean bias = !n.input(2).isEmpty() && g.isInitializer(n.input(2))
                        && g.initializer(n.input(2)).get().numElements() == outFeatures(n, g);
                return new Layer(n.name(), "Gemm", n.input(0), n.output(0), bias, 1, samples, MeanSpec.perChannel(1));
            }
            default: { // MatMul: features on the last axis, whatever the sequence length
                Node add = biasAdd(n, g);
                int rank = rank(g, n.input(0), 8);
                if (rank < 2) return null; // unknown rank: no per-feature statistics to ask for
                String output = add != null ? add.output(0) : n.output(0);
                MeanSpec perChannel = MeanSpec.perChannel(rank - 1);
                return new Layer(n.name(), "MatMul", n.input(0), output, add != null, rank - 1, perChannel, perChannel);
            }
        }
    }

    /** The requests of this layer on the FP32 model: mean input (for the fast variant) and mean output. */
    List<StatisticRequest> requests(boolean withInput) {
        List<StatisticRequest> r = new ArrayList<>();
        if (withInput) r.add(new StatisticRequest(input, inputSpec));
        r.add(new StatisticRequest(output, outputSpec));
        return r;
    }

    /** Output features of a Gemm / MatMul weight (an initializer, or one behind a DequantizeLinear); -1 if unknown. */
    static long outFeatures(Node n, Graph g) {
        Tensor w = constant(g, n.input(1));
        if (w == null || w.rank() != 2) return -1;
        boolean transB = n.opType().equals("Gemm") && n.attrLong("transB", 0) == 1;
        return transB ? w.dim(0) : w.dim(1);
    }

    /**
     * The Add right after a MatMul that adds a constant of one value per output feature (directly or
     * through a DequantizeLinear), or null. The MatMul's output must feed nothing else.
     */
    static Node biasAdd(Node matmul, Graph g) {
        List<Node> cons = g.consumers(matmul.output(0));
        if (cons.size() != 1 || !cons.get(0).opType().equals("Add") || g.isGraphOutput(matmul.output(0))) return null;
        Node add = cons.get(0);
        String other = add.input(0).equals(matmul.output(0)) ? add.input(1) : add.input(0);
        Tensor c = constant(g, other);
        return c != null && c.numElements() == outFeatures(matmul, g) ? add : null;
    }

    /** An initializer, or the initializer behind a DequantizeLinear; null otherwise. */
    static Tensor constant(Graph g, String tensor) {
        if (g.isInitializer(tensor)) return g.initializer(tensor).get();
        Node p = g.producer(tensor);
        if (p != null && p.opType().equals("DequantizeLinear") && g.isInitializer(p.input(0))) return g.initializer(p.input(0)).get();
        return null;
    }

    /** A tensor's rank: declared, or followed back through rank-keeping ops and Reshape/Flatten/Gemm/MatMul; -1 if unknown. */
    static int rank(Graph g, String tensor, int depth) {
        ValueInfo v = g.typeOf(tensor);
        if (v != null && v.shape() != null) return v.shape().size();
        Node p = g.producer(tensor);
        if (p == null || depth == 0) return -1;
        switch (p.opType()) {
            case "Flatten": case "Gemm": return 2;
            case "Reshape": {
                Tensor s = g.initializer(p.input(1)).orElse(null);
                Node c = g.producer(p.input(1));
                if (s == null && c != null && c.opType().equals("Constant") && c.attribute("value").isPresent()) s = c.attribute("value").get().asTensor();
                return s == null ? -1 : (int) s.numElements();
            }
            case "MatMul": case "Relu": case "Gelu": case "Sigmoid": case "Tanh": case "Erf": case "Softmax": case "LayerNormalization":
            case "QuantizeLinear": case "DequantizeLinear": case "Clip": case "Identity":
                return rank(g, p.input(0), depth - 1);
            case "Add": case "Mul": case "Sub": case "Div": // broadcasting: the larger rank
                return Math.max(rank(g, p.input(0), depth - 1), rank(g, p.input(1), depth - 1));
            default: return -1;
        }
    }
}
