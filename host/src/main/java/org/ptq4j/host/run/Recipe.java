package org.ptq4j.host.run;

import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.pipeline.DatasetSelection;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to open a dataset or create a metric again in another JVM: its plugin type, its validated
 * parameters and the folder relative paths resolved against. Plain serializable values only (paths
 * as strings), so a cluster can ship it to executors, which look the type up in their own plugins.
 *
 * @param role    dataset role ({@code calibration}, {@code validation}), or null for a metric
 * @param type    the dataset or metric type
 * @param params  validated parameters, {@link Path} values as {@link PathValue}
 * @param baseDir folder of the pipeline file
 */
public record Recipe(String role, String type, Map<String, Object> params, String baseDir) implements Serializable {

    /** A {@link Path} parameter value, serializable. */
    public record PathValue(String path) implements Serializable {}

    public static Recipe of(PipelineConfig.DatasetConfig d, Path baseDir) {
        return new Recipe(d.role(), d.factory().type(), toPlain(d.params().asMap()), baseDir.toString());
    }

    public static Recipe of(PipelineConfig.MetricConfig m, Path baseDir) {
        return new Recipe(null, m.factory().type(), toPlain(m.params().asMap()), baseDir.toString());
    }

    /** Opens the dataset with the selection keys applied, for a model with {@code model}'s inputs. */
    public Dataset openDataset(Registry registry, Model model) {
        DatasetFactory f = registry.dataset(type).orElseThrow(() -> new PtqException("dataset type '" + type + "' is not installed on this executor"));
        List<ValueInfo> inputs = List.copyOf(model.graph().feedInputs());
        Path base = Path.of(baseDir);
        return DatasetSelection.open(new PipelineConfig.DatasetConfig(role, f, new Params(fromPlain(params))), new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return base; }
            @Override public int threads() { return 1; }
        });
    }

    /** Creates the metric for a model with {@code model}'s outputs. */
    public Metric createMetric(Registry registry, Model model) {
        MetricFactory f = registry.metric(type).orElseThrow(() -> new PtqException("metric type '" + type + "' is not installed on this executor"));
        List<ValueInfo> outputs = new ArrayList<>(model.graph().outputs());
        Path base = Path.of(baseDir);
        return f.create(new Params(fromPlain(params)), new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return outputs; }
            @Override public Path baseDir() { return base; }
        });
    }

    @SuppressWarnings("unchecked")
    private static <T> T convert(Object v, boolean toPlain) {
        if (toPlain && v instanceof Path p) return (T) new PathValue(p.toString());
        if (!toPlain && v instanceof PathValue p) return (T) Path.of(p.path());
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(String.valueOf(k), convert(x, toPlain)));
            return (T) out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (Object x : l) out.add(convert(x, toPlain));
            return (T) out;
        }
        return (T) v;
    }

    static Map<String, Object> toPlain(Map<String, Object> m) { return convert(m, true); }

    static Map<String, Object> fromPlain(Map<String, Object> m) { return convert(m, false); }
}
