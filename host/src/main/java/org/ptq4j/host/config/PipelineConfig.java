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
 * @param report   the quantization report to write ({@code report:}), or null
 */
public record PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                             Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps, Report report) {

    public PipelineConfig {
        datasets = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(datasets));
        steps = List.copyOf(steps);
    }

    public PipelineConfig(Path file, Path baseDir, Path model, Path output, Engine engine,
                          Map<String, DatasetConfig> datasets, MetricConfig metric, List<Step> steps) {
        this(file, baseDir, model, output, engine, datasets, metric, steps, null);
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
