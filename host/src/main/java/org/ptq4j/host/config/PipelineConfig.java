package org.ptq4j.host.config;

import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.param.Params;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A validated pipeline: every path absolute, every plugin resolved, every parameter checked and
 * defaults filled in. Built by {@link PipelineConfigLoader} (from YAML) or directly (the CLI's
 * simplified mode).
 *
 * @param file     the YAML file (null when built in memory)
 * @param baseDir  folder relative paths were resolved against
 * @param model    input FP32 model
 * @param output   where the result goes (may be null for {@code ptq evaluate})
 * @param engine   session settings
 * @param datasets role ({@code calibration}, {@code validation}) to dataset
 * @param metric   the metric, or null
 * @param steps    the algorithm steps, in order
 * @param cluster  where statistics and evaluation run ({@code cluster:}), or null: in this JVM
 * @param report   the quantization report to write ({@code report:}), or null
 */
public record PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                             Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps, Cluster cluster, Report report) {

    public PipelineConfig {
        datasets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(datasets));
        steps = List.copyOf(steps);
    }

    /**
     * Every file or folder the run reads, by key: the pipeline file, the model, and each path
     * parameter of the datasets, the metric and the steps (except outputs: {@code output*},
     * {@code save*}, {@code dump*}, {@code work*}). The model's external-data files are not
     * known before it is read: see {@code OnnxIO.externalFiles}.
     */
    public Map<String, Path> inputs() {
        Map<String, Path> in = new java.util.LinkedHashMap<>();
        if (file != null) in.put("pipeline file", file);
        if (model != null) in.put("model", model);
        datasets.forEach((role, d) -> paths("datasets." + role, d.params().asMap(), in));
        if (metric != null) paths("metric", metric.params().asMap(), in);
        for (int i = 0; i < steps.size(); i++) paths("pipeline[" + i + "].params", steps.get(i).params().asMap(), in);
        return in;
    }

    private static void paths(String key, Object value, Map<String, Path> into) {
        if (value instanceof Params p) value = p.asMap();
        if (value instanceof Path p) into.put(key, p);
        else if (value instanceof Map<?, ?> m) m.forEach((k, v) -> { if (!ParamValidator.isOutput(String.valueOf(k))) paths(key + "." + k, v, into); });
        else if (value instanceof List<?> l) for (int i = 0; i < l.size(); i++) paths(key + "[" + i + "]", l.get(i), into);
    }

    /** Without a cluster: everything in this JVM. */
    public PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                          Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps) {
        this(file, baseDir, model, output, engine, datasets, metric, steps, null, null);
    }

    /** The same pipeline with another cluster setting (null: this JVM). */
    public PipelineConfig withCluster(Cluster c) {
        return new PipelineConfig(file, baseDir, model, output, engine, datasets, metric, steps, c, report);
    }

    /** The same pipeline with another report setting (null: none). */
    public PipelineConfig withReport(Report r) {
        return new PipelineConfig(file, baseDir, model, output, engine, datasets, metric, steps, cluster, r);
    }

    /**
     * {@code cluster: {type: spark, master: "local[*]", ...}}.
     *
     * @param type   a {@link org.ptq4j.host.run.ClusterFactory} type; {@code local} means this JVM
     * @param params all keys of the map (validated), {@code type} included
     */
    public record Cluster(String type, Params params) {
        public boolean local() { return "local".equals(type); }
    }

    /**
     * {@code report: {html: ..., json: ..., samples: 32, worst_layers: 6}}: where the report goes (absolute paths, either
     * may be null), how many samples the per-layer analysis runs, how many worst layers get range charts.
     */
    public record Report(Path html, Path json, int samples, int worstLayers) {}

    /** @param threads intra-op threads (0: engine default) @param batchSize samples per inference call */
    public record Engine(int threads, int batchSize) {
        public static final Engine DEFAULT = new Engine(1, 32);
    }

    public record DatasetConfig(String role, DatasetFactory factory, Params params) {}

    public record MetricConfig(MetricFactory factory, Params params) {}

    /** @param line where the step starts in the YAML (0 when in memory) */
    public record Step(Algorithm algorithm, Params params, int line) {}
}
