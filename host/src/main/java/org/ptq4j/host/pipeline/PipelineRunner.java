package org.ptq4j.host.pipeline;

import org.ptq4j.host.config.ConfigError;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.config.ParamValidator;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.run.MapReport;
import org.ptq4j.host.run.ClusterFactory;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.host.run.Recipe;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.CpuInfo;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.BudgetNotMetException;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Runs a validated pipeline: reads the model, opens the datasets and the metric, asks every
 * step for its statistics and collects them all in ONE pass over the calibration subset, applies
 * the steps in order, writes the result atomically, and (with a validation dataset and a metric)
 * evaluates FP32 against the result. The input model is never modified and no half-written
 * output is left behind on failure; an unwritable output folder is detected before calibrating.
 */
public final class PipelineRunner {
    /** Calibration samples when no step declares {@code stat_subset_size}. */
    public static final int DEFAULT_SUBSET = 300;

    private final Registry registry;
    private final InferenceEngine engine;
    private final BiFunction<String, Long, Progress> progress;

    public PipelineRunner(Registry registry, InferenceEngine engine, BiFunction<String, Long, Progress> progress) {
        this.registry = registry;
        this.engine = engine;
        this.progress = progress;
    }

    /**
     * What a run produced: the report (sections by name), the written model, and the facts the
     * quantization report ({@code org.ptq4j.host.report}) is built from.
     */
    public record Result(Path output, Map<String, Object> report, Facts facts) {
        public Result(Path output, Map<String, Object> report) { this(output, report, null); }
    }

    /**
     * Numbers of a run, unformatted.
     *
     * @param fp32Eval     the metric on FP32 (null without validation data and metric)
     * @param resultEval   the metric on the written model (null likewise)
     * @param stepSeconds  wall time of each step, by step order ("name" or "name#i" when repeated)
     * @param calibration  {requested, used} calibration samples (null when no statistics were collected)
     * @param bytes        {input, output} model sizes on disk, external data included
     */
    public record Facts(Model fp32, Model result, Evaluation fp32Eval, Evaluation resultEval,
                        Map<String, Double> stepSeconds, double seconds, int[] calibration, long[] bytes) {}

    /** The budget of an accuracy-aware step was missed: the best model was written, and the run's result is here. */
    public static final class BudgetMissed extends BudgetNotMetException {
        private final transient Result result;

        BudgetMissed(BudgetNotMetException e, Result result) {
            super(e.getMessage(), e.bestModel(), e.achievedDrop(), e.maximalDrop());
            this.result = result;
        }

        public Result result() { return result; }
    }

    public Result run(PipelineConfig cfg) {
        long t0 = System.nanoTime();
        Model model = OnnxIO.read(cfg.model());
        checkOutput(cfg, model);
        prepareOutput(cfg.output());
        Map<String, Dataset> datasets = new LinkedHashMap<>();
        MapReport report = new MapReport();
        String[] phase = {""};   // prefixes progress lines of the final evaluation ("FP32", "result")
        Facts facts;
        try (PassRunner passes = passes(cfg, registry)) {
            HostContext.Builder b = HostContext.builder().engine(engine).registry(registry).passes(passes).modelPath(model, cfg.model())
                    .threads(cfg.engine().threads()).batchSize(cfg.engine().batchSize()).report(report).progress((task, total) -> progress.apply(phase[0] + task, total))
                    .paramBinder((specs, values) -> ParamValidator.bind(specs, values, cfg.baseDir(), "params"));
            for (var d : cfg.datasets().values()) {
                Dataset ds = DatasetSelection.open(d, datasetContext(model, cfg));
                datasets.put(d.role(), ds);
                b.dataset(d.role(), ds).recipe(ds, Recipe.of(d, cfg.baseDir()));
            }
            Metric metric = cfg.metric() == null ? null : cfg.metric().factory().create(cfg.metric().params(), metricContext(model, cfg));
            if (metric != null) b.metric(metric).recipe(metric, Recipe.of(cfg.metric(), cfg.baseDir()));
            if (metric != null && datasets.containsKey(PipelineContext.VALIDATION))
                checkFixedBatch(model, "datasets.validation", datasets.get(PipelineContext.VALIDATION).size());
            try (HostContext ctx = b.build()) {
                Model result;
                Map<String, Double> times = new LinkedHashMap<>();
                int[] calib = new int[2];
                try {
                    result = apply(cfg, model, ctx, times, calib);
                } catch (BudgetNotMetException e) {
                    // the budget was missed: still deliver the best model found, then fail the run
                    OnnxIO.write(e.bestModel(), cfg.output());
                    long[] bytes = new long[2];
                    Evaluation[] ev = summarizeOrRemove(cfg, model, e.bestModel(), ctx, report, t0, phase, bytes);
                    Result r = new Result(cfg.output(), report.asMap(), new Facts(model, e.bestModel(), ev[0], ev[1], times,
                            (System.nanoTime() - t0) / 1e9, calib[1] > 0 ? calib : null, bytes));
                    throw new BudgetMissed(new BudgetNotMetException(e.getMessage() + "; the best model found was written to " + cfg.output(),
                            e.bestModel(), e.achievedDrop(), e.maximalDrop()), r);
                }
                OnnxIO.write(result, cfg.output());
                long[] bytes = new long[2];
                Evaluation[] ev = summarizeOrRemove(cfg, model, result, ctx, report, t0, phase, bytes);
                facts = new Facts(model, result, ev[0], ev[1], times, (System.nanoTime() - t0) / 1e9, calib[1] > 0 ? calib : null, bytes);
            }
        } finally {
            for (Dataset d : datasets.values()) d.close();
        }
        return new Result(cfg.output(), report.asMap(), facts);
    }

    /** Statistics of all steps in one pass, then the steps in order. */
    static Model apply(PipelineConfig cfg, Model model, HostContext ctx) {
        return apply(cfg, model, ctx, new LinkedHashMap<>(), new int[2]);
    }

    /** As above, recording each step's seconds in {@code times} and {requested, used} calibration samples in {@code samples}. */
    static Model apply(PipelineConfig cfg, Model model, HostContext ctx, Map<String, Double> times, int[] samples) {
        LinkedHashSet<StatisticRequest> requests = new LinkedHashSet<>();
        // the calibration subset: the largest stat_subset_size of the steps; seed and shuffle_data (POT's names)
        // come from the step that asks for it
        int subset = 0;
        long seed = 0;
        boolean shuffle = false;
        for (PipelineConfig.Step s : cfg.steps()) model = s.algorithm().transform(model, s.params(), ctx);   // data-free rewrites first
        for (PipelineConfig.Step s : cfg.steps()) {
            requests.addAll(s.algorithm().statistics(model, s.params(), ctx));
            if (s.params().has("stat_subset_size") && s.params().getInt("stat_subset_size") > subset) {
                subset = s.params().getInt("stat_subset_size");
                seed = s.params().has("seed") ? s.params().getLong("seed") : 0;
                shuffle = s.params().has("shuffle_data") && s.params().getBool("shuffle_data");
            }
        }
        Statistics stats = Statistics.EMPTY;
        if (!requests.isEmpty()) {
            Dataset calib = ctx.dataset(PipelineContext.CALIBRATION).orElseThrow(() -> new PtqException(
                    "pipeline step " + cfg.steps().get(0).algorithm().name() + " needs calibration data, but 'datasets.calibration' is not set"));
            int n = Math.min(calib.size(), subset > 0 ? subset : DEFAULT_SUBSET);
            if (n == 0) throw new PtqException("datasets.calibration is empty");
            checkFixedBatch(model, "datasets.calibration (" + n + " of " + calib.size() + " samples used)", n);
            stats = ctx.collect(model, calib, ctx.subset(calib, n, seed, shuffle), List.copyOf(requests));
            ctx.report().put("run", "calibration samples", stats.samples());
            samples[0] = subset > 0 ? subset : DEFAULT_SUBSET;
            samples[1] = stats.samples();
            ctx.report().put("run", "statistics collected", requests.size());
        }
        Model current = model;
        for (PipelineConfig.Step s : cfg.steps()) {
            long t = System.nanoTime();
            current = s.algorithm().apply(current, s.params(), stats, ctx);
            if (current == null) throw new IllegalStateException("algorithm " + s.algorithm().name() + " returned no model");
            double sec = (System.nanoTime() - t) / 1e9;
            ctx.report().put("steps", s.algorithm().name(), String.format("%.1f s", sec));
            String key = s.algorithm().name();
            for (int i = 2; times.containsKey(key); i++) key = s.algorithm().name() + "#" + i;
            times.put(key, sec);
        }
        return current;
    }

    /** Where the data passes of {@code cfg} run: this JVM, or the configured cluster (connected now, before any work). */
    public static PassRunner passes(PipelineConfig cfg, Registry registry) {
        PipelineConfig.Cluster c = cfg.cluster();
        if (c == null || c.local()) return PassRunner.LOCAL;
        return ClusterFactory.of(c.type()).open(c.params(), registry, PluginLoader.folders(List.of(), System::getenv));
    }

    /** The final evaluation; when it fails, the output just written is removed (a failed run leaves nothing). */
    private Evaluation[] summarizeOrRemove(PipelineConfig cfg, Model fp32, Model result, HostContext ctx, MapReport report, long t0, String[] phase, long[] bytes) {
        try {
            return summarize(cfg, fp32, result, ctx, report, t0, phase, bytes);
        } catch (RuntimeException e) {
            try { Files.deleteIfExists(cfg.output()); } catch (IOException ignored) { }
            throw e;
        }
    }

    /**
     * Evaluates (when it can) and fills the "accuracy" and "run" sections; returns {FP32, result} evaluations (or nulls)
     * and puts {input, output} sizes (external data included) in {@code bytes}.
     */
    private Evaluation[] summarize(PipelineConfig cfg, Model fp32, Model result, HostContext ctx, MapReport report, long t0, String[] phase, long[] bytes) {
        Evaluation[] ev = new Evaluation[2];
        Dataset val = ctx.dataset(PipelineContext.VALIDATION).orElse(null);
        Metric metric = ctx.metric().orElse(null);
        if (val != null && metric != null) {
            int[] all = ctx.subset(val, val.size(), 0, false);
            Model reloaded = OnnxIO.read(cfg.output());       // judge what was written, not what is in memory
            ctx.withModelPath(reloaded, cfg.output());
            phase[0] = "FP32: ";
            Evaluation a = ctx.evaluate(fp32, fp32, metric, val, all);
            phase[0] = "result: ";
            Evaluation q = ctx.evaluate(reloaded, fp32, metric, val, all);
            phase[0] = "";
            report.put("accuracy", "metric", metric.name());
            report.put("accuracy", "samples", a.samples());
            report.put("accuracy", "fp32", a.value());
            report.put("accuracy", "quantized", q.value());
            report.put("accuracy", "delta", q.value() - a.value());
            ev[0] = a;
            ev[1] = q;
        }
        long in = org.ptq4j.host.onnx.ModelFiles.bytes(cfg.model()), out = org.ptq4j.host.onnx.ModelFiles.bytes(cfg.output());
        bytes[0] = in;
        bytes[1] = out;
        report.put("run", "model", cfg.model().toString());
        report.put("run", "output", cfg.output().toString());
        report.put("run", "input size", human(in));
        report.put("run", "output size", human(out) + String.format(" (%.2fx smaller)", out == 0 ? 0.0 : (double) in / out));
        report.put("run", "time", String.format("%.1f s", (System.nanoTime() - t0) / 1e9));
        CpuInfo cpu = CpuInfo.host();
        report.put("run", "cpu", cpu.describe());
        String slow = cpu.slowInt8Note(out == 0 ? Double.NaN : (double) in / out);
        if (slow != null) report.note("run", slow);
        return ev;
    }

    /** The output touches no input, including the model's external-data files (see {@link PipelineConfigLoader#checkOutput}). */
    public static void checkOutput(PipelineConfig cfg, Model model) {
        Map<String, Path> inputs = new LinkedHashMap<>(cfg.inputs());
        List<Path> ext = OnnxIO.externalFiles(model);
        for (int i = 0; i < ext.size(); i++) inputs.put("model's external data" + (ext.size() > 1 ? " #" + (i + 1) : ""), ext.get(i));
        List<ConfigError> errors = new ArrayList<>();
        PipelineConfigLoader.checkOutput(cfg.output(), inputs, 0, errors);
        if (!errors.isEmpty()) throw new ConfigException(cfg.file(), errors);
    }

    /** A model with a fixed batch dimension N can only run {@code samples} that are a multiple of N: said before any work. */
    static void checkFixedBatch(Model model, String what, int samples) {
        for (ValueInfo v : model.graph().feedInputs()) {
            if (v.shape() == null || v.shape().isEmpty() || !v.shape().get(0).isFixed()) continue;
            long batch = v.shape().get(0).value();
            if (batch > 0 && samples % batch != 0)
                throw new PtqException(what + ": " + samples + " samples, but model input '" + v.name() + "' has a fixed batch size of " + batch
                        + " " + v.shape() + "; use a multiple of " + batch + " samples (subset_size / stat_subset_size) or a model with a dynamic batch dimension");
        }
    }

    /** Creates the output folder and proves it is writable, before any calibration work. */
    static void prepareOutput(Path output) {
        Path dir = output.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            OnnxIO.removeStaleTemporaries(output);
            OnnxIO.deleteTemporary(OnnxIO.createTemporary(output, output.getFileName().toString()));
        } catch (IOException | SecurityException e) {
            throw new PtqException("output: cannot write to " + dir + " (" + e.getMessage() + ")", e);
        }
    }

    public static DatasetContext datasetContext(Model model, PipelineConfig cfg) {
        List<ValueInfo> inputs = List.copyOf(model.graph().feedInputs());
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        return new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return cfg.baseDir(); }
            @Override public int threads() { return threads; }
        };
    }

    public static MetricContext metricContext(Model model, PipelineConfig cfg) {
        List<ValueInfo> outputs = new ArrayList<>(model.graph().outputs());
        return new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return outputs; }
            @Override public Path baseDir() { return cfg.baseDir(); }
        };
    }

    static long size(Path p) {
        try { return Files.size(p); } catch (IOException e) { return 0; }
    }

    public static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        if (bytes < 1024 * 1024) return String.format("%.1f KB", bytes / 1024.0);
        return String.format("%.2f MB", bytes / (1024.0 * 1024));
    }
}
