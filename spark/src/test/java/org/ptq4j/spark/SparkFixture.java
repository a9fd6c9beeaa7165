package org.ptq4j.spark;

import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.DatasetSelection;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.host.run.Recipe;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Real plugins (class path + one test-only metric), real ONNX Runtime, real Fashion-MNIST, real Spark. */
final class SparkFixture {
    static final Registry REGISTRY = Registry.fromClasspath().add(new ErrorRateMetricFactory(), "test-plugin");
    static final OrtEngine ENGINE = new OrtEngine();

    private SparkFixture() {}

    /** A pipeline YAML: fmnist model, the 300 calibration samples, a validation set, a metric, one step, optionally a cluster. */
    static Path yaml(Path dir, String model, String validation, String metric, String cluster, String steps) throws Exception {
        String text = """
                model: %s
                output: out/result.onnx
                engine: {threads: 1, batch_size: 32}
                datasets:
                  calibration: {type: numpy, path: %s}
                  validation: %s
                metric: %s
                %s
                pipeline:
                %s
                """.formatted(TestAssets.model(model), TestAssets.data("fmnist-calib-300.npy"), validation, metric,
                cluster == null ? "" : "cluster: " + cluster, steps.indent(2));
        Path y = dir.resolve("pipeline-" + Math.abs(text.hashCode()) + ".yaml");
        Files.writeString(y, text);
        return y;
    }

    static String test1k() {
        return "{type: numpy, path: %s, labels: %s}".formatted(TestAssets.data("fmnist-test-1k.npy"), TestAssets.data("fmnist-test-1k-labels.npy"));
    }

    static String test10k() {
        return "{type: numpy, path: %s, labels: %s, scale: 0.00392156862745098, mean: 0.2860, std: 0.3530}".formatted(TestAssets.data("fmnist-test-10k-u8.npy"), TestAssets.data("fmnist-test-10k-labels.npy"));
    }

    static PipelineConfig load(Path yaml) { return new PipelineConfigLoader(REGISTRY, k -> null).load(yaml); }

    /** What PipelineRunner builds: the config's datasets and metric (with their recipes), on {@code passes}. */
    static final class Run implements AutoCloseable {
        final Model model;
        final HostContext ctx;
        final Metric metric;
        final List<Dataset> open = new ArrayList<>();

        Run(PipelineConfig cfg, PassRunner passes) {
            model = OnnxIO.read(cfg.model());
            HostContext.Builder b = HostContext.builder().engine(ENGINE).registry(REGISTRY).passes(passes).modelPath(model, cfg.model())
                    .threads(cfg.engine().threads()).batchSize(cfg.engine().batchSize());
            for (var d : cfg.datasets().values()) {
                Dataset ds = DatasetSelection.open(d, PipelineRunner.datasetContext(model, cfg));
                open.add(ds);
                b.dataset(d.role(), ds).recipe(ds, Recipe.of(d, cfg.baseDir()));
            }
            metric = cfg.metric().factory().create(cfg.metric().params(), PipelineRunner.metricContext(model, cfg));
            b.metric(metric).recipe(metric, Recipe.of(cfg.metric(), cfg.baseDir()));
            ctx = b.build();
        }

        Dataset dataset(String role) { return ctx.dataset(role).orElseThrow(); }

        @Override
        public void close() {
            ctx.close();
            open.forEach(Dataset::close);
        }
    }
}
