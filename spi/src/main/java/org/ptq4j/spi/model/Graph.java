package org.ptq4j.spi.model;

import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A computation graph: inputs, outputs, nodes, initializers (constant tensors such as weights)
 * and declared value types. Mutable; algorithms edit it through a {@link Model#copy()}.
 * Lookups ({@link #producer}, {@link #consumers}) are indexed and the index is rebuilt lazily after
 * any change made through this class; call {@link #touch()} after editing a node's inputs or outputs directly.
 */
public final class Graph {
    private String name;
    private final List<ValueInfo> inputs = new ArrayList<>();
    private final List<ValueInfo> outputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final LinkedHashMap<String, Tensor> initializers = new LinkedHashMap<>();
    private final LinkedHashMap<String, ValueInfo> valueInfos = new LinkedHashMap<>();
    private Map<String, Node> producerIndex;
    private Map<String, List<Node>> consumerIndex;
    private Set<String> names;

    public Graph(String name) { this.name = name; }

    public String name() { return name; }
    public void name(String n) { this.name = n; }

    /** Mutable list of graph inputs (ONNX IR >= 4: initializers need not be listed here). */
    public List<ValueInfo> inputs() { return inputs; }
    public List<ValueInfo> outputs() { return outputs; }
    /** Mutable node list; keep it topologically sorted ({@link #sortTopologically()}). */
    public List<Node> nodes() { touch(); return nodes; }
    /** Mutable map of initializers by name, in file order. */
    public Map<String, Tensor> initializers() { touch(); return initializers; }
    /** Mutable map of declared intermediate value types. */
    public Map<String, ValueInfo> valueInfos() { return valueInfos; }

    public Optional<Tensor> initializer(String tensorName) { return Optional.ofNullable(initializers.get(tensorName)); }
    public boolean isInitializer(String tensorName) { return initializers.containsKey(tensorName); }
    public boolean isGraphInput(String tensorName) { return inputs.stream().anyMatch(v -> v.name().equals(tensorName)) && !initializers.containsKey(tensorName); }
    public boolean isGraphOutput(String tensorName) { return outputs.stream().anyMatch(v -> v.name().equals(tensorName)); }

    /** Graph inputs that are not initializers: what a caller must feed. */
    public List<ValueInfo> feedInputs() {
        List<ValueInfo> r = new ArrayList<>();
        for (ValueInfo v : inputs) if (!initializers.containsKey(v.name())) r.add(v);
        return r;
    }

    public Optional<Node> node(String nodeName) {
        for (Node n : nodes) if (n.name().equals(nodeName)) return Optional.of(n);
        return Optional.empty();
    }

    /** The node producing {@code tensor}, or null for graph inputs, initializers and unknown names. */
    public Node producer(String tensor) { index(); return producerIndex.get(tensor); }

    /** The nodes reading {@code tensor}, in graph order. */
    public List<Node> consumers(String tensor) { index(); return consumerIndex.getOrDefault(tensor, List.of()); }

    /** Declared type of a tensor: graph input/output, value_info or initializer; null when unknown. */
    public ValueInfo typeOf(String tensor) {
        for (ValueInfo v : inputs) if (v.name().equals(tensor)) return v;
        for (ValueInfo v : outputs) if (v.name().equals(tensor)) return v;
        ValueInfo vi = valueInfos.get(tensor);
        if (vi != null) return vi;
        Tensor t = initializers.get(tensor);
        if (t != null) {
            List<Dim> s = new ArrayList<>();
            for (long d : t.shape()) s.add(Dim.of(d));
            return new ValueInfo(tensor, t.dtype(), s);
        }
        return null;
    }

    /** Forget the lookup index (after editing node inputs/outputs directly). */
    public void touch() { producerIndex = null; consumerIndex = null; names = null; }

    private void index() {
        if (producerIndex != null) return;
        Map<String, Node> p = new HashMap<>();
        Map<String, List<Node>> c = new HashMap<>();
        for (Node n : nodes) {
            for (String o : n.outputs()) if (!o.isEmpty()) p.put(o, n);
            for (String i : n.inputs()) if (!i.isEmpty()) c.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
        }
        producerIndex = p;
        consumerIndex = c;
    }

    /** A node or tensor name not yet used in this graph, made from {@code base}. */
    public String uniqueName(String base) {
        if (names == null) {
            names = new HashSet<>();
            for (Node n : nodes) { names.add(n.name()); names.addAll(n.outputs()); names.addAll(n.inputs()); }
            names.addAll(initializers.keySet());
            for (ValueInfo v : inputs) names.add(v.name());
            for (ValueInfo v : outputs) names.add(v.name());
        }
        String candidate = base;
        for (int i = 1; names.contains(candidate); i++) candidate = base + "_" + i;
        names.add(candidate);
        return candidate;
    }

    public void addNode(Node n) { nodes.add(n); touch(); }

    /** Inserts {@code n} right before {@code anchor} in node order. */
    public void addNodeBefore(Node anchor, Node n) {
        int i = nodes.indexOf(anchor);
        nodes.add(i < 0 ? nodes.size() : i, n);
        touch();
    }

    public void removeNodes(Collection<Node> remove) {
        Set<Node> s = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        s.addAll(remove);
        nodes.removeIf(s::contains);
        touch();
    }

    /** Replaces every read of tensor {@code from} (node inputs and graph outputs) by {@code to}. */
    public void renameInputs(String from, String to) {
        for (Node n : nodes) {
            List<String> in = n.inputs();
            for (int i = 0; i < in.size(); i++) if (in.get(i).equals(from)) in.set(i, to);
        }
        touch();
    }

    /** Drops initializers no node reads (and that are not graph outputs). */
    public void removeUnusedInitializers() {
        Set<String> used = new HashSet<>();
        for (Node n : nodes) used.addAll(n.inputs());
        for (ValueInfo v : outputs) used.add(v.name());
        Set<String> removed = new HashSet<>();
        for (String k : initializers.keySet()) if (!used.contains(k)) removed.add(k);
        initializers.keySet().removeAll(removed);
        inputs.removeIf(v -> removed.contains(v.name()));
        touch();
    }

    /** Sorts nodes so that every node follows the producers of its inputs (stable otherwise). */
    public void sortTopologically() {
        Set<String> available = new HashSet<>(initializers.keySet());
        for (ValueInfo v : inputs) available.add(v.name());
        available.add("");
        Map<Node, Integer> missing = new java.util.IdentityHashMap<>();
        Map<String, List<Node>> waiting = new HashMap<>();
        List<Node> ready = new ArrayList<>();
        Map<String, Node> prod = new HashMap<>();
        for (Node n : nodes) for (String o : n.outputs()) prod.put(o, n);
        for (Node n : nodes) {
            int m = 0;
            for (String i : new java.util.LinkedHashSet<>(n.inputs())) {
                if (!available.contains(i) && prod.containsKey(i)) { m++; waiting.computeIfAbsent(i, k -> new ArrayList<>()).add(n); }
            }
            missing.put(n, m);
            if (m == 0) ready.add(n);
        }
        List<Node> sorted = new ArrayList<>(nodes.size());
        // keep the original order where dependencies allow: take ready nodes by original index
        Map<Node, Integer> order = new java.util.IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) order.put(nodes.get(i), i);
        java.util.PriorityQueue<Node> pq = new java.util.PriorityQueue<>(java.util.Comparator.comparingInt(order::get));
        pq.addAll(ready);
        while (!pq.isEmpty()) {
            Node n = pq.poll();
            sorted.add(n);
            for (String o : n.outputs()) {
                for (Node w : waiting.getOrDefault(o, List.of())) {
                    int left = missing.merge(w, -1, Integer::sum);
                    if (left == 0) pq.add(w);
                }
            }
        }
        if (sorted.size() != nodes.size()) throw new IllegalStateException("graph '" + name + "' has a cycle or a dangling input");
        nodes.clear();
        nodes.addAll(sorted);
        touch();
    }

    /** A copy with copied nodes and lists; tensors (immutable) are shared. */
    public Graph copy() {
        Graph g = new Graph(name);
        g.inputs.addAll(inputs);
        g.outputs.addAll(outputs);
        for (Node n : nodes) g.nodes.add(n.copy());
        g.initializers.putAll(initializers);
        g.valueInfos.putAll(valueInfos);
        return g;
    }
}
