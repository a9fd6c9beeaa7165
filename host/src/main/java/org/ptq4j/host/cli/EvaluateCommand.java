package org.ptq4j.host.cli;

import org.ptq4j.host.pipeline.DatasetSelection;
import org.ptq4j.host.config.ConfigError;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.config.ParamValidator;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.report.ReportDocs;
import org.ptq4j.host.report.ReportWriter;
import org.ptq4j.host.run.ConsoleProgress;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.host.run.Recipe;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code ptq evaluate}: a metric for one or several models on the same data. With {@code -c},
 * the pipeline's model and (when it exists) its output on the pipeline's validation dataset.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = {"Evaluate a metric for one or more models on the same data and print a table (or JSON).",
                "--data ending in .npy/.npz uses dataset type 'numpy', a folder 'image_folder'; --data-type names any installed type."})
final class EvaluateCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Mode mode;

    static final class Mode {
        @Option(names = {"-c", "--config"}, required = true, paramLabel = "YAML",
                description = "pipeline file: evaluates 'model' and 'output' on datasets.validation with its metric") Path config;
        @ArgGroup(exclusive = false) Direct direct;
    }

    static final class Direct {
        @Option(names = "--model", required = true, paramLabel = "ONNX", description = "model to evaluate (repeatable)") List<Path> models;
        @Option(names = "--data", required = true, paramLabel = "NPY|DIR", description = "samples: .npy/.npz (preprocessed) or an image folder; with --data-type, that type's 'path'") Path data;
        @Option(names = "--data-type", paramLabel = "TYPE", description = "dataset type of --data: any installed type (see 'ptq plugins'; default: numpy for .npy/.npz, image_folder for a folder)") String dataType;
        @Option(names = "--labels", paramLabel = "FILE", description = "labels: .npy for --data .npy; a 'path label' list file for an image folder") Path labels;
        @Option(names = "--metric", defaultValue = "accuracy", paramLabel = "TYPE", description = "metric type (default ${DEFAULT-VALUE}); see 'ptq plugins'") String metric;
        @Option(names = "--reference", paramLabel = "ONNX", description = "reference model for fidelity metrics (default: the first --model)") Path reference;
        @Option(names = "--data-param", paramLabel = "KEY=VALUE", description = "dataset parameter, e.g. scale=0.0039215686 or mean=[0.286] (repeatable; see 'ptq plugins')") Map<String, String> dataParams = new LinkedHashMap<>();
        @Option(names = "--metric-param", paramLabel = "KEY=VALUE", description = "metric parameter, e.g. top_k=5 (repeatable)") Map<String, String> metricParams = new LinkedHashMap<>();
    }

    @Option(names = "--limit", paramLabel = "N", description = "evaluate the first N samples only") Integer limit;
    @Option(names = "--threads", paramLabel = "N", defaultValue = "1", description = "intra-op threads (default ${DEFAULT-VALUE})") int threads;
    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "samples per inference call (default ${DEFAULT-VALUE})") int batchSize;
    @Option(names = "--json", description = "print results as JSON (ptq-report.schema.json, kind 'evaluate')") boolean json;
    @Option(names = "--report", paramLabel = "HTML", description = "write the results as a self-contained HTML report") Path reportHtml;

    @Override
    public Integer call() {
        List<ConfigError> bad = new ArrayList<>();
        if (limit != null) Main.range(bad, "--limit", limit, 0, Integer.MAX_VALUE);
        Main.range(bad, "--threads", threads, 0, PipelineConfigLoader.MAX_THREADS);
        Main.range(bad, "--batch-size", batchSize, 1, PipelineConfigLoader.MAX_BATCH_SIZE);
        if (!bad.isEmpty()) throw new ConfigException(null, bad);
        Registry registry = main.plugins().registry();
        PipelineConfig cfg;
        List<Path> models = new ArrayList<>();
        Path reference;
        if (mode.config != null) {
            cfg = new PipelineConfigLoader(registry, main.env).load(mode.config);
            if (!cfg.datasets().containsKey(PipelineContext.VALIDATION) || cfg.metric() == null)
                throw new PtqException(cfg.file() + ": 'ptq evaluate' needs datasets.validation and metric");
            models.add(cfg.model());
            if (Files.isRegularFile(cfg.output())) models.add(cfg.output());
            reference = cfg.model();
        } else {
            cfg = direct(registry, mode.direct);
            models.addAll(mode.direct.models.stream().map(p -> p.toAbsolutePath().normalize()).toList());
            reference = mode.direct.reference != null ? mode.direct.reference.toAbsolutePath().normalize() : models.get(0);
        }
        List<ConfigError> missing = new ArrayList<>();
        for (Path m : models) if (!Files.isRegularFile(m)) missing.add(new ConfigError("--model", 0, Main.notAFile(m)));
        if (!Files.isRegularFile(reference)) missing.add(new ConfigError("--reference", 0, Main.notAFile(reference)));
        if (!missing.isEmpty()) throw new ConfigException(null, missing);

        Model ref = OnnxIO.read(reference);
        var dc = cfg.datasets().get(PipelineContext.VALIDATION);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Evaluation> evals = new ArrayList<>();
        String metricName;
        try (Dataset ds = DatasetSelection.open(dc, PipelineRunner.datasetContext(ref, cfg))) {
            Metric metric = cfg.metric().factory().create(cfg.metric().params(), PipelineRunner.metricContext(ref, cfg));
            metricName = metric.name();
            if (metric.needsAnnotations() && !ds.annotated())
                throw new PtqException("metric '" + metric.name() + "' needs labels, but the data has none" + (mode.config == null ? " (add --labels)" : ""));
            try (PassRunner passes = PipelineRunner.passes(cfg, registry);
                 HostContext ctx = HostContext.builder().engine(new OrtEngine()).registry(registry).dataset(PipelineContext.VALIDATION, ds)
                    .metric(metric).threads(threads).batchSize(batchSize).passes(passes).modelPath(ref, reference)
                    .recipe(ds, Recipe.of(dc, cfg.baseDir())).recipe(metric, Recipe.of(cfg.metric(), cfg.baseDir()))
                    .progress((task, total) -> new ConsoleProgress(task, total, main.err, Main.tty())).build()) {
                int n = limit == null ? ds.size() : Math.min(limit, ds.size());
                int[] indices = ctx.subset(ds, n, 0, false);
                Double first = null;
                for (Path m : models) {
                    Model model = m.equals(reference) ? ref : OnnxIO.read(m);
                    Evaluation e = ctx.withModelPath(model, m).evaluate(model, ref, metric, ds, indices);
                    if (first == null) first = e.value();
                    evals.add(e);
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("model", m.toString());
                    row.put(metric.name(), e.value());
                    row.put("delta", e.value() - first);
                    row.put("samples", e.samples());
                    rows.add(row);
                }
            }
        }
        Map<String, Object> doc = ReportDocs.evaluate(metricName, models, evals, Main.version());
        if (reportHtml != null) ReportWriter.write(doc, reportHtml.toAbsolutePath().normalize(), null);
        if (json) main.out.println(ReportWriter.json(doc));
        else {
            Output.table(main.out, rows, "");
            if (reportHtml != null) main.out.println("report: " + reportHtml.toAbsolutePath().normalize());
        }
        return 0;
    }

    /** An in-memory config with the validation dataset and metric from the command line. */
    static PipelineConfig direct(Registry registry, Direct d) {
        Path cwd = Path.of("").toAbsolutePath();
        Path data = d.data.toAbsolutePath().normalize();
        if (!Files.exists(data)) throw new ConfigException(null, List.of(new ConfigError("--data", 0, Main.notAFile(data))));
        DatasetFactory f;
        Map<String, Object> dp = new LinkedHashMap<>(Main.typed(d.dataParams));
        if (d.dataType != null) {
            f = registry.dataset(d.dataType).orElseThrow(() -> new PtqException("--data-type: unknown dataset type '" + d.dataType + "'"
                    + PipelineConfigLoader.suggestion(d.dataType, registry.datasets().keySet())));
            // --data and --labels go to the type's 'path' and labels parameters (the validator checks that the files exist)
            List<String> names = f.parameters().stream().map(ParamSpec::name).toList();
            if (!names.contains("path")) throw new PtqException("--data-type " + d.dataType + ": the type has no 'path' parameter for --data; its parameters: "
                    + String.join(", ", names) + " (pass them with --data-param)");
            dp.put("path", data.toString());
            if (d.labels != null) {
                String key = names.contains("labels") ? "labels" : names.contains("labels_file") ? "labels_file" : null;
                if (key == null) throw new PtqException("--labels: dataset type '" + d.dataType + "' has no 'labels' parameter; its parameters: " + String.join(", ", names));
                dp.put(key, d.labels.toAbsolutePath().normalize().toString());
            }
        } else {
            boolean folder = Files.isDirectory(data);
            String type = folder ? "image_folder" : "numpy";
            f = registry.dataset(type).orElseThrow(() -> new PtqException(
                    "dataset type '" + type + "' (for --data " + d.data + ") is not installed; installed: " + String.join(", ", registry.datasets().keySet())));
            dp.put("path", data.toString());
            if (d.labels != null) dp.put(folder ? "labels_file" : "labels", d.labels.toAbsolutePath().normalize().toString());
        }
        MetricFactory mf = registry.metric(d.metric).orElseThrow(() -> new PtqException(
                "--metric: unknown metric type '" + d.metric + "'; installed: " + String.join(", ", registry.metrics().keySet())));
        var ds = new PipelineConfig.DatasetConfig(PipelineContext.VALIDATION, f, ParamValidator.bind(f.parameters(), dp, cwd, "--data-param"));
        var metric = new PipelineConfig.MetricConfig(mf, ParamValidator.bind(mf.parameters(), Main.typed(d.metricParams), cwd, "--metric-param"));
        return new PipelineConfig(null, cwd, null, null, PipelineConfig.Engine.DEFAULT, Map.of(PipelineContext.VALIDATION, ds), metric, List.of());
    }
}
