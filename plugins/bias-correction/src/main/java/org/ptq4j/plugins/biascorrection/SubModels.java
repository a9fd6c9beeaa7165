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

/** Cuts small models out of a graph: one layer between two tensors, or everything a set of tensors needs. */
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

    /**
     * The part of {@code model} between tensor {@code input} (fed as a FLOAT graph input) and
     * tensor {@code output}, or null when {@code output} depends on other graph inputs.
     */
    static Model between(Model model, String input, String output) {
        Graph g = model.graph();
        List<Node> nodes = ancestors(g, List.of(output), Set.of(input));
        if (nodes == null) return null;
        for (Node n : nodes) for (String i : n.inputs()) if (g.isGraphInput(i) && !i.equals(input)) return null;
        return build(model, nodes, List.of(new ValueInfo(input, DType.FLOAT, null)), List.of(output));
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
