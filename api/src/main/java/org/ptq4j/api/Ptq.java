package org.ptq4j.api;

import org.ptq4j.host.config.ConfigError;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.config.ParamValidator;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.ConsoleProgress;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.tensor.Tensor;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * ptq4j as a library: quantize, evaluate and benchmark ONNX models from Java objects, or run a YAML
 * pipeline, with the same host (config validation, one-pass statistics, atomic writes, reports)
 * as the {@code ptq} command line.
 * <pre>{@code
 * try (Ptq ptq = Ptq.create()) {
 *     QuantizationResult r = ptq.quantize(Path.of("model.onnx"))
 *             .calibration(Data.ofFloats(calibrationSamples))
 *             .validation(Data.ofFloats(testItems, Item::pixels).labels(Item::label))
 *             .output(Path.of("model_int8.onnx"))
 *             .run();
 *     System.out.println(r.accuracy());
 * }
 * }</pre>
 * <b>Plugins.</b> Every plugin jar on the class path is found (pf4j reads each
 * {@code META-INF/extensions.idx} of the class path): {@code ptq4j-api} brings the core ones
 * (quantization, bias correction, accuracy-aware, metrics, numpy datasets); add
 * {@code ptq4j-plugin-data-image}, {@code -data-text} or {@code -transformer} as dependencies for
 * more. Third-party plugin jars can also be loaded from folders with {@link Builder#pluginsDir}.
 * <p>
 * <b>Errors.</b> Bad input (model, data, parameters) throws {@link PtqException} with a message that
 * names the file, key or sample; invalid parameters throw its subclass {@link ConfigException}, whose
 * {@link ConfigException#errors()} lists every problem; an accuracy budget that cannot be met throws
 * {@link org.ptq4j.spi.BudgetNotMetException} (the best model found is still written). Anything else
 * is a bug.
 * <p>
 * A {@code Ptq} holds the loaded plugins (their class loaders); close it when done. It is safe to run
 * several requests one after the other; each request opens and closes its own ONNX Runtime sessions.
 */
public final class Ptq implements AutoCloseable {
    private final PluginLoader.Result plugins;
    private final OrtEngine engine = new OrtEngine();
    private final BiFunction<String, Long, Progress> progress;
    private boolean closed;

    private Ptq(PluginLoader.Result plugins, BiFunction<String, Long, Progress> progress) {
        this.plugins = plugins;
        this.progress = progress;
    }

    /** The plugins on the class path, no progress output. */
    public static Ptq create() { return builder().build(); }

    public static Builder builder() { return new Builder(); }

    /** Options of a {@link Ptq}. */
    public static final class Builder {
        private final List<Path> dirs = new ArrayList<>();
        private BiFunction<String, Long, Progress> progress = (t, n) -> Progress.NONE;
        private boolean lenient;

        private Builder() {}

        /** Also load the plugin jars and zips in {@code dir} (repeatable). */
        public Builder pluginsDir(Path dir) { dirs.add(Objects.requireNonNull(dir).toAbsolutePath().normalize()); return this; }

        /** Print progress lines (calibration, evaluation) to {@code out}, e.g. {@code System.err}. */
        public Builder progressTo(PrintStream out) {
            Objects.requireNonNull(out);
            this.progress = (task, total) -> new ConsoleProgress(task, total, out, false);
            return this;
        }

        /**
         * Keep going when a plugin in a {@link #pluginsDir} fails to load (default: {@link #build()}
         * throws, naming every failure); the failures are then in {@link Ptq#pluginFailures()}.
         */
        public Builder ignorePluginFailures() { this.lenient = true; return this; }

        /** Loads the plugins. */
        public Ptq build() {
            PluginLoader.Result r = PluginLoader.load(List.copyOf(dirs));
            if (!r.failures().isEmpty() && !lenient) {
                r.close();
                throw new PtqException(r.failures().size() + (r.failures().size() == 1 ? " plugin" : " plugins") + " did not load:\n  "
                        + String.join("\n  ", r.failures().stream().map(Object::toString).toList()));
            }
            for (String w : r.warnings()) LoggerFactory.getLogger("ptq").warn(w);
            return new Ptq(r, progress);
        }
    }

    /** Plugins loaded from {@link Builder#pluginsDir} folders (class path plugins are not listed here). */
    public List<PluginLoader.PluginInfo> plugins() { return plugins.plugins(); }

    /** Plugins that did not load (only with {@link Builder#ignorePluginFailures()}). */
    public List<PluginLoader.Failure> pluginFailures() { return plugins.failures(); }

    /** Installed algorithm names. */
    public Set<String> algorithms() { return registry().algorithms().keySet(); }

    /** Installed dataset types (for YAML pipelines). */
    public Set<String> datasetTypes() { return registry().datasets().keySet(); }

    /** Installed metric types. */
    public Set<String> metricTypes() { return registry().metrics().keySet(); }

    /** A quantization of the model file {@code model} (never modified). */
    public Quantization quantize(Path model) {
        return new Quantization(Objects.requireNonNull(model, "model").toAbsolutePath().normalize(), null);
    }

    /** A quantization of an in-memory ONNX model (without external data). */
    public Quantization quantize(byte[] model) {
        return new Quantization(null, Objects.requireNonNull(model, "model").clone());
    }

    /**
     * Runs a YAML pipeline file exactly as {@code ptq quantize -c}: validated first (every problem
     * in one {@link ConfigException}), then run.
     */
    public QuantizationResult runPipeline(Path yaml) {
        PipelineConfig cfg = new PipelineConfigLoader(registry()).load(yaml);
        return run(cfg);
    }

    /** Validates a YAML pipeline file (keys, types, ranges, plugin names, files) without running it. */
    public void validatePipeline(Path yaml) {
        new PipelineConfigLoader(registry()).load(yaml);
    }

    /** An evaluation of {@code model} with a metric on in-memory data. */
    public EvaluationRequest evaluate(Path model) {
        return new EvaluationRequest(Objects.requireNonNull(model, "model").toAbsolutePath().normalize());
    }

    /** A latency comparison of {@code models} (the first is the baseline), run interleaved on the same inputs. */
    public BenchmarkRequest benchmark(Path... models) {
        if (models.length == 0) throw new PtqException("benchmark: give at least one model");
        return new BenchmarkRequest(Arrays.stream(models).map(p -> p.toAbsolutePath().normalize()).toList());
    }

    /** Unloads the plugins of the plugin folders. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            plugins.close();
        }
    }

    private Registry registry() {
        if (closed) throw new IllegalStateException("this Ptq is closed");
        return plugins.registry();
    }

    private QuantizationResult run(PipelineConfig cfg) {
        long t0 = System.nanoTime();
        PipelineRunner.Result r = new PipelineRunner(registry(), engine, progress).run(cfg);
        return result(r, (System.nanoTime() - t0) / 1e9, cfg.model());
    }

    @SuppressWarnings("unchecked")
    static QuantizationResult result(PipelineRunner.Result r, double seconds, Path input) {
        Map<String, Map<String, Object>> report = new LinkedHashMap<>();
        r.report().forEach((k, v) -> report.put(k, v instanceof Map<?, ?> m ? Map.copyOf((Map<String, Object>) m) : Map.of("value", v)));
        Map<String, Object> acc = report.get("accuracy");
        QuantizationResult.Accuracy accuracy = acc == null ? null : new QuantizationResult.Accuracy(String.valueOf(acc.get("metric")),
                ((Number) acc.get("samples")).intValue(), ((Number) acc.get("fp32")).doubleValue(), ((Number) acc.get("quantized")).doubleValue());
        Map<String, Object> run = report.getOrDefault("run", Map.of());
        int samples = run.get("calibration samples") instanceof Number n ? n.intValue() : 0;
        List<QuantizationResult.Step> steps = new ArrayList<>();
        report.getOrDefault("steps", Map.of()).forEach((name, time) -> steps.add(new QuantizationResult.Step(name, seconds(time))));
        return new QuantizationResult(r.output(), accuracy, samples, steps, size(input), size(r.output()), seconds, report);
    }

    private static double seconds(Object time) {
        try {
            return Double.parseDouble(String.valueOf(time).replace(" s", "").trim());
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static long size(Path p) {
        try { return Files.size(p); } catch (IOException e) { return 0; }
    }

    private static Path cwd() { return Path.of("").toAbsolutePath(); }

    private MetricFactory metricFactory(String type) {
        return registry().metric(type).orElseThrow(() -> new PtqException("unknown metric type '" + type + "'; installed: "
                + String.join(", ", registry().metrics().keySet())));
    }

    /** In-memory {@link Data} as a dataset type of the host (selection and batching are the host's). */
    private static DatasetFactory factory(Data<?> data) {
        return new DatasetFactory() {
            @Override public String type() { return "java"; }
            @Override public String description() { return "samples given as Java objects"; }
            @Override public List<ParamSpec> parameters() { return List.of(); }
            @Override public Dataset open(Params params, DatasetContext context) { return data.open(context); }
        };
    }

    /**
     * One quantization: calibration samples, the pipeline steps (default: {@code DefaultQuantization}
     * with its defaults), optionally validation samples and a metric; {@link #run()} runs it.
     */
    public final class Quantization {
        private final Path model;
        private final byte[] bytes;
        private Path output;
        private Data<?> calibration, validation;
        private String metric;
        private Map<String, Object> metricParams = Map.of();
        private final List<Map.Entry<String, Map<String, Object>>> steps = new ArrayList<>();
        private int threads = 1, batchSize = 32;

        private Quantization(Path model, byte[] bytes) {
            this.model = model;
            this.bytes = bytes;
        }

        /** Calibration samples (no labels needed); a few hundred are enough. */
        public Quantization calibration(Data<?> data) { this.calibration = Objects.requireNonNull(data); return this; }

        /**
         * Annotated samples: the result's {@link QuantizationResult#accuracy()} compares FP32 with the
         * result on them, and accuracy-aware algorithms use them. The metric is {@code accuracy}
         * unless {@link #metric} says otherwise.
         */
        public Quantization validation(Data<?> data) { this.validation = Objects.requireNonNull(data); return this; }

        /** The metric type (e.g. {@code accuracy}, {@code cosine}; see {@link Ptq#metricTypes()}). */
        public Quantization metric(String type) { return metric(type, Map.of()); }

        /** The metric type and its parameters (e.g. {@code Map.of("top_k", 5)}). */
        public Quantization metric(String type, Map<String, ?> params) {
            this.metric = Objects.requireNonNull(type);
            this.metricParams = Map.copyOf(params);
            return this;
        }

        /**
         * Adds a pipeline step: an installed algorithm and its parameters as in YAML (e.g.
         * {@code step("DefaultQuantization", Map.of("preset", "mixed"))}). Without any step,
         * {@code DefaultQuantization} runs with its defaults.
         */
        public Quantization step(String algorithm, Map<String, ?> params) {
            steps.add(Map.entry(Objects.requireNonNull(algorithm), Map.copyOf(params)));
            return this;
        }

        /** Where the quantized model goes (default: a new file in the temporary-files folder). */
        public Quantization output(Path output) { this.output = output.toAbsolutePath().normalize(); return this; }

        /** Intra-op threads per ONNX Runtime session (default 1; 0 = ONNX Runtime's default). */
        public Quantization threads(int threads) { this.threads = threads; return this; }

        /** Samples per inference call (default 32). */
        public Quantization batchSize(int batchSize) { this.batchSize = batchSize; return this; }

        /** Validates everything, then quantizes, writes the model and (with validation data) evaluates FP32 vs the result. */
        public QuantizationResult run() {
            Registry registry = registry();
            Path tmp = null;
            try {
                Path in = model;
                if (bytes != null) {
                    tmp = Files.createTempDirectory("ptq-api");
                    in = tmp.resolve("model.onnx");
                    Files.write(in, bytes);
                }
                Path out = output;
                if (out == null) {
                    String name = model == null ? "model" : model.getFileName().toString().replaceFirst("\\.onnx$", "");
                    out = Files.createTempFile("ptq-" + name + "-", "-int8.onnx");
                }
                return Ptq.this.run(config(registry, in, out));
            } catch (IOException e) {
                throw new PtqException("cannot write a temporary file: " + e.getMessage(), e);
            } finally {
                if (tmp != null) {
                    try (var s = Files.walk(tmp)) {
                        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                    } catch (IOException ignored) {
                        // best effort
                    }
                }
            }
        }

        private PipelineConfig config(Registry registry, Path in, Path out) {
            Path cwd = cwd();
            List<ConfigError> errors = new ArrayList<>();
            if (!Files.isRegularFile(in)) errors.add(new ConfigError("model", 0, "file not found: " + in));
            PipelineConfigLoader.checkOutput(out, Map.of("model", in), 0, errors);
            if (threads < 0 || threads > 256) errors.add(new ConfigError("threads", 0, threads + " is out of range [0, 256]"));
            if (batchSize < 1) errors.add(new ConfigError("batchSize", 0, batchSize + " is out of range [1, 65536]"));
            String metricType = metric != null ? metric : validation != null ? "accuracy" : null;
            if (metric != null && validation == null) errors.add(new ConfigError("metric", 0, "a metric needs validation data: call validation(...)"));
            if (!errors.isEmpty()) throw new ConfigException(null, errors);

            List<Map.Entry<String, Map<String, Object>>> wanted = steps.isEmpty() ? List.of(Map.entry("DefaultQuantization", Map.of())) : steps;
            List<PipelineConfig.Step> list = new ArrayList<>();
            for (int i = 0; i < wanted.size(); i++) {
                String name = wanted.get(i).getKey();
                Algorithm a = registry.algorithm(name).orElseThrow(() -> new PtqException("unknown algorithm '" + name + "'; installed: "
                        + String.join(", ", registry.algorithms().keySet())));
                list.add(new PipelineConfig.Step(a, ParamValidator.bind(a.parameters(), wanted.get(i).getValue(), cwd, "pipeline[" + i + "].params",
                        n -> registry.algorithm(n).map(Algorithm::parameters), registry.algorithms().keySet()), 0));
            }
            Map<String, PipelineConfig.DatasetConfig> ds = new LinkedHashMap<>();
            if (calibration != null) ds.put(PipelineContext.CALIBRATION, new PipelineConfig.DatasetConfig(PipelineContext.CALIBRATION, factory(calibration), Params.empty()));
            if (validation != null) ds.put(PipelineContext.VALIDATION, new PipelineConfig.DatasetConfig(PipelineContext.VALIDATION, factory(validation), Params.empty()));
            PipelineConfig.MetricConfig mc = null;
            if (metricType != null) {
                MetricFactory mf = metricFactory(metricType);
                mc = new PipelineConfig.MetricConfig(mf, ParamValidator.bind(mf.parameters(), metricParams, cwd, "metric"));
            }
            return new PipelineConfig(null, cwd, in, out, new PipelineConfig.Engine(threads, batchSize), ds, mc, list);
        }
    }

    /** One evaluation: a model, data, a metric; {@link #run()} returns its value. */
    public final class EvaluationRequest {
        private final Path model;
        private Path reference;
        private Data<?> data;
        private String metric = "accuracy";
        private Map<String, Object> metricParams = Map.of();
        private int threads = 1, batchSize = 32;

        private EvaluationRequest(Path model) { this.model = model; }

        /** The samples (labeled when the metric needs labels, e.g. {@code accuracy}). */
        public EvaluationRequest on(Data<?> data) { this.data = Objects.requireNonNull(data); return this; }

        /** The metric type (default {@code accuracy}). */
        public EvaluationRequest metric(String type) { return metric(type, Map.of()); }

        public EvaluationRequest metric(String type, Map<String, ?> params) {
            this.metric = Objects.requireNonNull(type);
            this.metricParams = Map.copyOf(params);
            return this;
        }

        /** The reference model of fidelity metrics such as {@code cosine} (e.g. the FP32 model). */
        public EvaluationRequest reference(Path reference) { this.reference = reference.toAbsolutePath().normalize(); return this; }

        public EvaluationRequest threads(int threads) { this.threads = threads; return this; }

        public EvaluationRequest batchSize(int batchSize) { this.batchSize = batchSize; return this; }

        /** Evaluates; {@link Evaluation#perSample()} has one value per sample. */
        public Evaluation run() {
            Registry registry = registry();
            if (data == null) throw new PtqException("evaluate: no data: call on(...)");
            List<ConfigError> missing = new ArrayList<>();
            if (!Files.isRegularFile(model)) missing.add(new ConfigError("model", 0, "file not found: " + model));
            if (reference != null && !Files.isRegularFile(reference)) missing.add(new ConfigError("reference", 0, "file not found: " + reference));
            if (!missing.isEmpty()) throw new ConfigException(null, missing);
            Model m = OnnxIO.read(model);
            Model ref = reference == null ? m : OnnxIO.read(reference);
            MetricFactory mf = metricFactory(metric);
            PipelineConfig cfg = new PipelineConfig(null, cwd(), model, null, PipelineConfig.Engine.DEFAULT, Map.of(), null, List.of());
            Metric mt = mf.create(ParamValidator.bind(mf.parameters(), metricParams, cwd(), "metric"), PipelineRunner.metricContext(ref, cfg));
            try (Dataset ds = data.open(PipelineRunner.datasetContext(ref, cfg))) {
                if (mt.needsAnnotations() && !ds.annotated())
                    throw new PtqException("metric '" + mt.name() + "' needs labels, but the data has none: use Data.labels(...)");
                try (HostContext ctx = HostContext.builder().engine(engine).registry(registry).dataset(PipelineContext.VALIDATION, ds)
                        .metric(mt).threads(threads).batchSize(batchSize).progress(progress).build()) {
                    return ctx.evaluate(m, ref, mt, ds, ctx.subset(ds, ds.size(), 0, false));
                }
            }
        }
    }

    /** A latency comparison; {@link #run()} times the models interleaved (model 1, 2, ..., repeated) after a warm-up. */
    public final class BenchmarkRequest {
        private final List<Path> models;
        private int batch = 1, threads = 1, warmup = 10, runs = 50;
        private Data<?> inputs;

        private BenchmarkRequest(List<Path> models) { this.models = models; }

        /** Samples per run (default 1). */
        public BenchmarkRequest batch(int batch) { this.batch = batch; return this; }

        /** Intra-op threads (default 1: spinning threads make timings on small machines bimodal). */
        public BenchmarkRequest threads(int threads) { this.threads = threads; return this; }

        public BenchmarkRequest warmup(int warmup) { this.warmup = warmup; return this; }

        public BenchmarkRequest runs(int runs) { this.runs = runs; return this; }

        /** Feed these samples (the first {@code batch}, repeated as needed) instead of random values. */
        public BenchmarkRequest inputs(Data<?> inputs) { this.inputs = inputs; return this; }

        public BenchmarkResult run() {
            registry();
            List<ConfigError> errors = new ArrayList<>();
            for (Path m : models) if (!Files.isRegularFile(m)) errors.add(new ConfigError("model", 0, "file not found: " + m));
            if (batch < 1 || runs < 1 || warmup < 0 || threads < 0) errors.add(new ConfigError("batch/runs/warmup/threads", 0, "must be positive"));
            if (!errors.isEmpty()) throw new ConfigException(null, errors);
            List<Session> sessions = new ArrayList<>();
            try {
                for (Path m : models) sessions.add(engine.open(OnnxIO.read(m), SessionOptions.defaults().withThreads(threads)));
                Map<String, Tensor> feeds = feeds(sessions.get(0).inputs());
                long[][] ns = org.ptq4j.spi.engine.Interleaved.time(sessions, feeds, warmup, runs);
                List<BenchmarkResult.Model> rows = new ArrayList<>();
                double base = 0;
                for (int k = 0; k < sessions.size(); k++) {
                    double[] mp = org.ptq4j.spi.engine.Interleaved.medianP90(ns[k]);
                    double median = mp[0], p90 = mp[1];
                    if (k == 0) base = median;
                    rows.add(new BenchmarkResult.Model(models.get(k), median, p90, batch * 1000.0 / median, base / median));
                }
                return new BenchmarkResult(batch, threads, warmup, runs, rows);
            } finally {
                for (Session s : sessions) s.close();
            }
        }

        private Map<String, Tensor> feeds(List<ValueInfo> in) {
            Map<String, Tensor> feeds = new LinkedHashMap<>();
            if (inputs != null) {
                if (inputs.size() == 0) throw new PtqException("benchmark: the inputs are empty");
                Dataset ds = inputs.open(new DatasetContext() {
                    @Override public List<ValueInfo> modelInputs() { return in; }
                    @Override public Path baseDir() { return cwd(); }
                });
                List<Map<String, Tensor>> rows = new ArrayList<>();
                for (int i = 0; i < batch; i++) rows.add(ds.get(i % inputs.size()).inputs());
                for (ValueInfo v : in) feeds.put(v.name(), Tensor.stack(rows.stream().map(r -> r.get(v.name())).toList()));
                return feeds;
            }
            Random rnd = new Random(0);
            for (ValueInfo v : in) {
                if (v.shape() == null) throw new PtqException("input '" + v.name() + "' has no declared shape: give inputs(...)");
                long[] shape = v.concreteShape(1);
                shape[0] = batch;
                float[] f = new float[Math.toIntExact(Tensor.numElements(shape))];
                for (int i = 0; i < f.length; i++) f[i] = (float) rnd.nextGaussian();
                Tensor t = Tensor.ofFloats(shape, f);
                feeds.put(v.name(), v.dtype() == null || v.dtype() == org.ptq4j.spi.tensor.DType.FLOAT ? t : t.to(v.dtype()));
            }
            return feeds;
        }
    }
}
