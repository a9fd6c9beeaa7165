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
 */
public record PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                             Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps, Cluster cluster) {

    public PipelineConfig {
        datasets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(datasets));
        steps = List.copyOf(steps);
    }

    /** Without a cluster: everything in this JVM. */
    public PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                          Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps) {
        this(file, baseDir, model, output, engine, datasets, metric, steps, null);
    }

    /** The same pipeline with another cluster setting (null: this JVM). */
    public PipelineConfig withCluster(Cluster c) {
        return new PipelineConfig(file, baseDir, model, output, engine, datasets, metric, steps, c);
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

    /** @param threads intra-op threads (0: engine default) @param batchSize samples per inference call */
    public record Engine(int threads, int batchSize) {
        public static final Engine DEFAULT = new Engine(1, 32);
    }

    public record DatasetConfig(String role, DatasetFactory factory, Params params) {}

    public record MetricConfig(MetricFactory factory, Params params) {}

    /** @param line where the step starts in the YAML (0 when in memory) */
    public record Step(Algorithm algorithm, Params params, int line) {}
}
