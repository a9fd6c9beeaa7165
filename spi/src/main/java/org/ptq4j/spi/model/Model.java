package org.ptq4j.spi.model;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model: its graph, the operator sets it imports, its metadata, and annotations that pipeline
 * steps pass to each other in memory (never written to the file).
 * <p>
 * A model read by the host carries a host-private {@link #origin()} so that what this API does not
 * model (functions, training info, unknown fields) is written back unchanged.
 */
public final class Model {
    private final Graph graph;
    private final LinkedHashMap<String, Long> opsets;
    private final LinkedHashMap<String, String> metadata;
    private final Map<String, Object> annotations;
    private long irVersion;
    private String producerName;
    private Object origin;
    private Path source;

    public Model(Graph graph, Map<String, Long> opsets, long irVersion) {
        this.graph = graph;
        this.opsets = new LinkedHashMap<>(opsets);
        this.metadata = new LinkedHashMap<>();
        this.annotations = new HashMap<>();
        this.irVersion = irVersion;
    }

    public Graph graph() { return graph; }

    /** Mutable map of operator set domain ("" = ai.onnx) to version. */
    public Map<String, Long> opsets() { return opsets; }

    /** The ai.onnx opset version. */
    public long opset() { return opsets.getOrDefault("", opsets.getOrDefault("ai.onnx", 0L)); }

    public long irVersion() { return irVersion; }
    public void irVersion(long v) { this.irVersion = v; }
    public String producerName() { return producerName; }
    public void producerName(String p) { this.producerName = p; }

    /** Mutable metadata_props of the model file. */
    public Map<String, String> metadata() { return metadata; }

    /** In-memory notes between pipeline steps (e.g. which nodes a quantizer placed); not saved. */
    public Map<String, Object> annotations() { return annotations; }

    /** The file the model was read from, if any. */
    public Path source() { return source; }
    public void source(Path p) { this.source = p; }

    public Object origin() { return origin; }
    public void origin(Object o) { this.origin = o; }

    /** A copy whose graph can be edited without touching this one (tensors are shared: they are immutable). */
    public Model copy() {
        Model m = new Model(graph.copy(), opsets, irVersion);
        m.metadata.putAll(metadata);
        m.annotations.putAll(annotations);
        m.producerName = producerName;
        m.origin = origin;
        m.source = source;
        return m;
    }
}
