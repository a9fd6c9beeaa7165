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

    static Model apply(Model quantized, Collection<String> layers) {
        if (layers.isEmpty()) return quantized;
        Model m = quantized.copy();
        Graph g = m.graph();
        for (String name : layers) {
            Node n = g.node(name).orElseThrow(() -> new PtqException("restore_mode: layer '" + name + "' is not in the quantized model"));
            List<String> in = n.inputs();
            for (int i = 0; i < in.size(); i++) {
                Node dq = g.producer(in.get(i));
                if (dq == null || !dq.opType().equals("DequantizeLinear")) continue;
                Node q = g.producer(dq.input(0));
                if (q == null || !q.opType().equals("QuantizeLinear")) continue; // a weight or bias DQ over an initializer
                in.set(i, q.input(0));
                g.touch();
            }
        }
        removeDangling(g);
        return m;
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
