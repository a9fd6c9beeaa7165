package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The "keep int8 weights, revert activations" restore: a quantized layer reads its activation
 * input in float again (its {@code QuantizeLinear -> DequantizeLinear} pair is bypassed) while its
 * weight stays an INT8 initializer behind a {@code DequantizeLinear}. Q/DQ pairs nothing reads any
 * more are removed. The model stays smaller than a full revert; ORT runs the layer as a float
 * kernel on dequantized weights.
 */
final class ActivationRevert {
    private ActivationRevert() {}

    /**
     * Makes each of {@code layers} read the FP32 model's tensor at its activation inputs. The tensor
     * is taken where the quantized graph still computes it; a ReLU the quantizer folded into the
     * {@code QuantizeLinear} is put back for the reverted reader. An input whose float value comes
     * straight (through ReLU/Clip at most) from one of {@code keepFused} stays quantized: a second
     * float reader would stop ONNX Runtime from fusing that layer into an integer kernel.
     */
    static Model apply(Model quantized, Model fp32, Collection<String> layers, Collection<String> keepFused) {
        if (layers.isEmpty()) return quantized;
        Model m = quantized.copy();
        Graph g = m.graph();
        for (String name : layers) {
            Node n = g.node(name).orElseThrow(() -> new PtqException("restore_mode: layer '" + name + "' is not in the quantized model"));
            Node orig = fp32.graph().node(name).orElse(null);
            List<String> in = n.inputs();
            for (int i = 0; i < in.size(); i++) {
                Node dq = g.producer(in.get(i));
                if (dq == null || !dq.opType().equals("DequantizeLinear")) continue;
                Node q = g.producer(dq.input(0));
                if (q == null || !q.opType().equals("QuantizeLinear")) continue; // a weight or bias DQ over an initializer
                if (fedByFused(g, q.input(0), keepFused)) continue;
                String want = orig != null && i < orig.inputs().size() ? orig.input(i) : q.input(0);
                if (g.producer(want) != null || g.isGraphInput(want)) {
                    in.set(i, want);
                } else {
                    Node fp32Producer = fp32.graph().producer(want);
                    if (fp32Producer == null || !fp32Producer.opType().equals("Relu")) continue; // cannot rebuild it: stay quantized
                    Node relu = Node.of(g.uniqueName(want + "_fp32"), "Relu", List.of(q.input(0)), List.of(want));
                    g.addNodeBefore(n, relu);
                    in.set(i, want);
                }
                g.touch();
            }
        }
        g.sortTopologically();
        removeDangling(g);
        return m;
    }

    private static boolean fedByFused(Graph g, String tensor, Collection<String> keepFused) {
        Node p = g.producer(tensor);
        while (p != null && (p.opType().equals("Relu") || p.opType().equals("Clip"))) p = g.producer(p.input(0));
        return p != null && keepFused.contains(p.name());
    }

    /** Removes Q/DQ nodes whose outputs nobody reads, repeatedly, then unused initializers. */
    private static void removeDangling(Graph g) {
        while (true) {
            List<Node> dead = new ArrayList<>();
            for (Node n : g.nodes()) {
                if (!n.opType().equals("QuantizeLinear") && !n.opType().equals("DequantizeLinear")) continue;
                boolean used = false;
                for (String o : n.outputs()) used |= !g.consumers(o).isEmpty() || g.isGraphOutput(o);
                if (!used) dead.add(n);
            }
            if (dead.isEmpty()) break;
            g.removeNodes(dead);
        }
        g.removeUnusedInitializers();
    }
}
