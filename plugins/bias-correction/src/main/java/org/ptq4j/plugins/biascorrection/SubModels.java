package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Cuts models out of a graph: layers side by side, or everything some tensors need. */
final class SubModels {
    private SubModels() {}

    /**
     * The nodes computing {@code outputs} from the graph inputs and initializers, plus
     * {@code stopAt} tensors that count as given, in graph order; null when a needed tensor has no producer.
     */
    static List<Node> ancestors(Graph g, Collection<String> outputs, Set<String> stopAt) {
        Set<Node> keep = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<String> todo = new ArrayDeque<>(outputs);
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            String t = todo.pop();
            if (t.isEmpty() || !seen.add(t) || stopAt.contains(t) || g.isInitializer(t)) continue;
            Node p = g.producer(t);
            if (p == null) {
                if (g.isGraphInput(t)) continue;
                return null;
            }
            if (keep.add(p)) todo.addAll(p.inputs());
        }
        return g.nodes().stream().filter(keep::contains).toList();
    }

    /** The part of {@code model} that computes {@code outputs} (which become its only outputs). */
    static Model prefix(Model model, Collection<String> outputs) {
        Graph g = model.graph();
        List<Node> nodes = ancestors(g, outputs, Set.of());
        if (nodes == null) throw new IllegalStateException("tensors " + outputs + " depend on unknown tensors");
        Set<String> used = new HashSet<>();
        for (Node n : nodes) used.addAll(n.inputs());
        List<ValueInfo> inputs = g.feedInputs().stream().filter(v -> used.contains(v.name()) || outputs.contains(v.name())).toList();
        return build(model, nodes, inputs, outputs);
    }

    /**
     * One model holding, side by side, each layer of {@code layers} cut out of {@code quantized}
     * from its activation input {@code inputs.get(i)} (a FLOAT graph input of shape {@code shapes.get(i)})
     * to its output; inputs and outputs are renamed per layer (see {@link Layers#outputs()} and the
     * returned model's inputs, in layer order). A layer that cannot be cut out gets a null output.
     */
    static Layers sideBySide(Model quantized, List<QuantizedLayer> layers, List<String> inputs, List<long[]> shapes) {
        Graph q = quantized.graph();
        Graph g = new Graph(q.name() + "_layers");
        List<String> outs = new java.util.ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            QuantizedLayer l = layers.get(i);
            String in = inputs.get(i);
            List<Node> nodes = in == null ? null : ancestors(q, List.of(l.output()), Set.of(in));
            if (nodes == null || nodes.stream().anyMatch(n -> n.inputs().stream().anyMatch(t -> q.isGraphInput(t) && !t.equals(in)))) {
                outs.add(null);
                continue;
            }
            String prefix = "layer" + i + "/";
            for (Node n : nodes) {
                Node c = n.copy().name(prefix + n.name());
                c.inputs().replaceAll(t -> t.isEmpty() ? t : prefix + t);
                c.outputs().replaceAll(t -> prefix + t);
                for (String t : n.inputs()) q.initializer(t).ifPresent(v -> g.initializers().put(prefix + t, v));
                g.nodes().add(c);
            }
            g.inputs().add(new ValueInfo(prefix + in, DType.FLOAT, java.util.Arrays.stream(shapes.get(i)).mapToObj(org.ptq4j.spi.model.Dim::of).toList()));
            g.outputs().add(new ValueInfo(prefix + l.output(), DType.FLOAT, null));
            outs.add(prefix + l.output());
        }
        g.touch();
        Model m = new Model(g, quantized.opsets(), quantized.irVersion());
        return new Layers(m, outs);
    }

    /** A model of layers side by side and their outputs, in layer order (null: the layer could not be cut out). */
    record Layers(Model model, List<String> outputs) {}

    private static Model build(Model model, List<Node> nodes, List<ValueInfo> inputs, Collection<String> outputs) {
        Graph src = model.graph();
        Graph g = new Graph(src.name() + "_part");
        g.inputs().addAll(inputs);
        for (String o : outputs) {
            ValueInfo t = src.typeOf(o);
            g.outputs().add(new ValueInfo(o, t != null && t.dtype() != null ? t.dtype() : DType.FLOAT, null));
        }
        Set<String> used = new HashSet<>();
        for (Node n : nodes) {
            g.nodes().add(n.copy());
            used.addAll(n.inputs());
        }
        Map<String, org.ptq4j.spi.tensor.Tensor> inits = g.initializers();
        for (String u : used) src.initializer(u).ifPresent(t -> inits.put(u, t));
        for (String u : used) { ValueInfo v = src.valueInfos().get(u); if (v != null) g.valueInfos().put(u, v); }
        g.touch();
        Model m = new Model(g, model.opsets(), model.irVersion());
        m.producerName(model.producerName());
        return m;
    }
}
