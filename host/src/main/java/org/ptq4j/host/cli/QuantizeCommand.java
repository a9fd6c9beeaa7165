package org.ptq4j.host.cli;

import org.ptq4j.host.config.ConfigError;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.config.ParamValidator;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.report.ReportDocs;
import org.ptq4j.host.report.ReportWriter;
import org.ptq4j.host.run.ConsoleProgress;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.DatasetFactory;
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

/** {@code ptq quantize -c pipeline.yaml}, or the simplified {@code ptq quantize --model --data --output}. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize a model: run a YAML pipeline, or DefaultQuantization on a .npy calibration set.",
                "Prints progress while calibrating and a summary at the end (FP32 vs INT8 metric when the pipeline has a validation dataset and a metric)."})
final class QuantizeCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Mode mode;

    static final class Mode {
        @Option(names = {"-c", "--config"}, required = true, paramLabel = "YAML", description = "pipeline file")
        Path config;

        @ArgGroup(exclusive = false)
        Simple simple;
    }

    /** The simplified mode: an in-memory pipeline with dataset 'numpy' and algorithm 'DefaultQuantization'. */
    static final class Simple {
        @Option(names = "--model", required = true, paramLabel = "ONNX", description = "FP32 model") Path model;
        @Option(names = "--data", required = true, paramLabel = "NPY", description = "calibration samples (.npy/.npz, axis 0 = samples, already preprocessed)") Path data;
        @Option(names = "--output", required = true, paramLabel = "ONNX", description = "quantized model to write") String output;
        @Option(names = "--preset", paramLabel = "PRESET", description = "performance (default) or mixed") String preset;
        @Option(names = "--subset-size", paramLabel = "N", description = "calibration samples to use (default 300)") Integer subsetSize;
        @Option(names = "--target-device", paramLabel = "TARGET", description = "where the model will run: ANY (default: every CPU), CPU_VNNI, CPU_NO_VNNI, HOST (this CPU; see 'ptq system')") String targetDevice;
        @Option(names = "--ignore-types", split = ",", paramLabel = "OP", description = "op types kept in FP32, e.g. Gemm,MatMul") List<String> ignoreTypes;
        @Option(names = "--data-param", paramLabel = "KEY=VALUE", description = "parameter of the 'numpy' dataset, e.g. scale=0.0039215686 (repeatable; see 'ptq plugins')") Map<String, String> dataParams = new LinkedHashMap<>();
        @Option(names = "--threads", paramLabel = "N", defaultValue = "1", description = "intra-op threads (default ${DEFAULT-VALUE})") int threads;
        @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "samples per inference call (default ${DEFAULT-VALUE})") int batchSize;
    }

    @Option(names = "--json", description = "print the report as JSON (ptq-report.schema.json, kind 'quantize')") boolean json;
    @Option(names = "--report", paramLabel = "HTML", description = "write a self-contained HTML report (summary, per-layer errors and ORT kernels, ranges, accuracy-aware search)") Path reportHtml;
    @Option(names = "--report-json", paramLabel = "JSON", description = "write the report as JSON too") Path reportJson;
    @Option(names = "--report-samples", paramLabel = "N", description = "samples of the per-layer error analysis (default 8; 0: none)") Integer reportSamples;

    @Override
    public Integer call() {
        Registry registry = main.plugins().registry();
        PipelineConfig cfg = mode.config != null ? new PipelineConfigLoader(registry, main.env).load(mode.config) : simple(registry, mode.simple);
        ReportDocs.Options opts = options(cfg);
        OrtEngine engine = new OrtEngine();
        PipelineRunner runner = new PipelineRunner(registry, engine,
                (task, total) -> new ConsoleProgress(task, total, main.err, Main.tty()));
        PipelineRunner.Result r;
        PipelineRunner.BudgetMissed missed = null;
        try {
            r = runner.run(cfg);
        } catch (PipelineRunner.BudgetMissed e) {
            missed = e;
            r = e.result();
        }
        Map<String, Object> doc = json || opts.any() ? ReportDocs.quantize(cfg, r, missed, opts, engine, Main.version()) : null;
        if (opts.any()) ReportWriter.write(doc, opts.html(), opts.json());
        if (json) main.out.println(ReportWriter.json(doc));
        else {
            Output.report(main.out, r.report());
            if (doc != null) printWarnings(doc);
            else if (r.facts() != null) for (String w : ReportDocs.sanity(cfg, r.facts(), engine)) main.out.println("warning: " + w);
            main.out.println("wrote " + r.output());
            if (opts.html() != null) main.out.println("report: " + opts.html());
            if (opts.json() != null) main.out.println("report (JSON): " + opts.json());
        }
        if (missed != null) {
            String metric = r.facts() != null && r.facts().fp32Eval() != null ? r.facts().fp32Eval().metric()
                    : cfg.metric() != null ? cfg.metric().factory().type() : "metric";
            main.err.println(String.format(java.util.Locale.ROOT, "error: %s budget not met: %s drop %.5g > maximal_drop %.5g: %s",
                    metric, metric, missed.achievedDrop(), missed.maximalDrop(), missed.getMessage()));
            return Main.EXIT_BUDGET_NOT_MET;
        }
        return 0;
    }

    @SuppressWarnings("unchecked")
    private void printWarnings(Map<String, Object> doc) {
        Map<String, Object> s = (Map<String, Object>) doc.get("summary");
        for (Object w : (java.util.List<Object>) s.get("warnings")) main.out.println("warning: " + w);
    }

    /** The report settings: --report / --report-json / --report-samples over the YAML's report: section. */
    private ReportDocs.Options options(PipelineConfig cfg) {
        PipelineConfig.Report y = cfg.report();
        Path html = reportHtml != null ? reportHtml.toAbsolutePath().normalize() : y != null ? y.html() : null;
        Path js = reportJson != null ? reportJson.toAbsolutePath().normalize() : y != null ? y.json() : null;
        int samples = reportSamples != null ? reportSamples : y != null ? y.samples() : ReportDocs.Options.DEFAULT_SAMPLES;
        if (samples < 0) throw new PtqException("--report-samples: must be 0 or more, got " + samples);
        int worst = y != null ? y.worstLayers() : ReportDocs.Options.DEFAULT_WORST;
        return new ReportDocs.Options(html, js, samples, worst);
    }

    private static Map<String, Object> withPath(Map<String, Object> params, Path data) {
        Map<String, Object> m = new LinkedHashMap<>(params);
        m.put("path", data.toString());
        return m;
    }

    static PipelineConfig simple(Registry registry, Simple s) {
        Path cwd = Path.of("").toAbsolutePath();
        Path model = s.model.toAbsolutePath().normalize(), data = s.data.toAbsolutePath().normalize(), output = Path.of(s.output).toAbsolutePath().normalize();
        List<ConfigError> errors = new ArrayList<>();
        if (!Files.isRegularFile(model)) errors.add(new ConfigError("--model", 0, Main.notAFile(model)));
        if (!Files.isRegularFile(data)) errors.add(new ConfigError("--data", 0, Main.notAFile(data)));
        if (s.output.endsWith("/")) errors.add(new ConfigError("--output", 0, "'" + s.output + "' names a folder (it ends with '/'); expected a file name such as model_int8.onnx"));
        Main.range(errors, "--threads", s.threads, 0, PipelineConfigLoader.MAX_THREADS);
        Main.range(errors, "--batch-size", s.batchSize, 1, PipelineConfigLoader.MAX_BATCH_SIZE);
        if (s.subsetSize != null) Main.range(errors, "--subset-size", s.subsetSize, 0, Integer.MAX_VALUE);
        if (!errors.isEmpty()) throw new ConfigException(null, errors);
        DatasetFactory numpy = registry.dataset("numpy").orElseThrow(() -> new PtqException(
                "dataset type 'numpy' is not installed (installed: " + String.join(", ", registry.datasets().keySet()) + ")"));
        Algorithm dq = registry.algorithm("DefaultQuantization").orElseThrow(() -> new PtqException(
                "algorithm 'DefaultQuantization' is not installed (installed: " + String.join(", ", registry.algorithms().keySet()) + ")"));
        Map<String, Object> params = new LinkedHashMap<>();
        if (s.preset != null) params.put("preset", s.preset);
        if (s.subsetSize != null) params.put("stat_subset_size", s.subsetSize);
        if (s.targetDevice != null) params.put("target_device", s.targetDevice.toUpperCase(java.util.Locale.ROOT));
        if (s.ignoreTypes != null && !s.ignoreTypes.isEmpty()) params.put("ignored", Map.of("types", s.ignoreTypes));
        var ds = new PipelineConfig.DatasetConfig(PipelineContext.CALIBRATION, numpy,
                ParamValidator.bind(numpy.parameters(), withPath(Main.typed(s.dataParams), data), cwd, "--data-param"));
        var step = new PipelineConfig.Step(dq, ParamValidator.bind(dq.parameters(), params, cwd, "DefaultQuantization"), 0);
        PipelineConfig cfg = new PipelineConfig(null, cwd, model, output, new PipelineConfig.Engine(s.threads, s.batchSize),
                Map.of(PipelineContext.CALIBRATION, ds), null, List.of(step));
        PipelineConfigLoader.checkOutput(output, cfg.inputs(), 0, errors);
        if (!errors.isEmpty()) throw new ConfigException(null, errors.stream().map(e -> e.path().equals("output") ? new ConfigError("--output", 0, e.message()) : e).toList());
        return cfg;
    }
}
