package org.ptq4j.spi.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One operator of the graph. Mutable: algorithms rewire inputs and outputs in place.
 * An empty string in {@link #inputs()} is an omitted optional input, as in ONNX.
 */
public final class Node {
    private String name;
    private String opType;
    private String domain;
    private final List<String> inputs;
    private final List<String> outputs;
    private final LinkedHashMap<String, Attribute> attributes;
    /** Host-private original representation, kept so that what this model does not interpret survives a round trip. */
    private Object origin;

    public Node(String name, String opType, String domain, List<String> inputs, List<String> outputs) {
        this.name = name == null ? "" : name;
        this.opType = opType;
        this.domain = domain == null ? "" : domain;
        this.inputs = new ArrayList<>(inputs);
        this.outputs = new ArrayList<>(outputs);
        this.attributes = new LinkedHashMap<>();
    }

    public static Node of(String name, String opType, List<String> inputs, List<String> outputs) {
        return new Node(name, opType, "", inputs, outputs);
    }

    public String name() { return name; }
    public Node name(String n) { this.name = n; return this; }
    public String opType() { return opType; }
    public Node opType(String t) { this.opType = t; return this; }
    /** "" for the default ai.onnx domain. */
    public String domain() { return domain; }
    public Node domain(String d) { this.domain = d == null ? "" : d; return this; }
    /** Mutable list of input tensor names. */
    public List<String> inputs() { return inputs; }
    /** Mutable list of output tensor names. */
    public List<String> outputs() { return outputs; }
    public String input(int i) { return i < inputs.size() ? inputs.get(i) : ""; }
    public String output(int i) { return outputs.get(i); }
    /** Mutable, ordered attribute map. */
    public Map<String, Attribute> attributes() { return attributes; }
    public Optional<Attribute> attribute(String name) { return Optional.ofNullable(attributes.get(name)); }
    public long attrLong(String name, long dflt) { Attribute a = attributes.get(name); return a == null ? dflt : a.asLong(); }
    public float attrFloat(String name, float dflt) { Attribute a = attributes.get(name); return a == null ? dflt : a.asFloat(); }
    public Node set(Attribute a) { attributes.put(a.name(), a); return this; }

    public Object origin() { return origin; }
    public Node origin(Object o) { this.origin = o; return this; }

    /** A copy with its own input/output lists and attribute map. */
    public Node copy() {
        Node n = new Node(name, opType, domain, inputs, outputs);
        n.attributes.putAll(attributes);
        n.origin = origin;
        return n;
    }

    @Override public String toString() { return opType + "(" + name + ": " + inputs + " -> " + outputs + ")"; }
}
