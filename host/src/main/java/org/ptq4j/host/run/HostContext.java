package org.ptq4j.host.run;

import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.Batch;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.Report;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

/**
 * The host's {@link PipelineContext}: engine, datasets, metric, other algorithms, and the
 * data passes (statistics collection and evaluation) that algorithms ask for.
 */
public final class HostContext implements PipelineContext, AutoCloseable {
    private final InferenceEngine engine;
    private final Registry registry;
    private final Map<String, Dataset> datasets;
    private final Metric metric;
    private final int threads;
    private final int batchSize;
    private final int decodeThreads;
    private final Report report;
    private final BiFunction<String, Long, Progress> progress;
    private final BiFunction<List<ParamSpec>, Map<String, Object>, Params> paramBinder;
    private final PassRunner passes;
    private final Map<Object, Recipe> recipes;
    private final Map<Model, Path> modelPaths;
    private final Logger log = LoggerFactory.getLogger("ptq");
    private Path workDir;

    private HostContext(Builder b) {
        this.engine = b.engine;
        this.registry = b.registry != null ? b.registry : Registry.fromClasspath();
        this.datasets = Map.copyOf(b.datasets);
        this.metric = b.metric;
        this.threads = b.threads;
        this.batchSize = b.batchSize;
        this.decodeThreads = b.decodeThreads;
        this.report = b.report != null ? b.report : new MapReport();
        this.progress = b.progress != null ? b.progress : (task, total) -> Progress.NONE;
        this.paramBinder = b.paramBinder != null ? b.paramBinder : ParamDefaults::bind;
        this.passes = b.passes != null ? b.passes : PassRunner.LOCAL;
        this.recipes = b.recipes;
        this.modelPaths = java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>(b.modelPaths));
    }

    public static Builder builder() { return new Builder(); }

    public Registry registry() { return registry; }

    @Override public InferenceEngine engine() { return engine; }
    @Override public Optional<Dataset> dataset(String role) { return Optional.ofNullable(datasets.get(role)); }
    @Override public Optional<Metric> metric() { return Optional.ofNullable(metric); }
    @Override public Optional<Algorithm> algorithm(String name) { return registry.algorithm(name); }

    @Override
    public Params params(Algorithm algorithm, Map<String, Object> values) {
        return paramBinder.apply(algorithm.parameters(), values == null ? Map.of() : values);
    }

    @Override
    public int[] subset(Dataset dataset, int n, long seed, boolean shuffle) {
        return subsetOf(dataset.size(), n, seed, shuffle);
    }

    /** The first {@code n} of {@code size} indices, or a seeded random choice of {@code n} (in ascending order). */
    public static int[] subsetOf(int size, int n, long seed, boolean shuffle) {
        int k = n <= 0 ? size : Math.min(n, size);
        int[] all = new int[size];
        for (int i = 0; i < size; i++) all[i] = i;
        if (!shuffle || k == size) return java.util.Arrays.copyOf(all, k);
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < k; i++) {
            int j = i + r.nextInt(size - i);
            int t = all[i]; all[i] = all[j]; all[j] = t;
        }
        int[] pick = java.util.Arrays.copyOf(all, k);
        java.util.Arrays.sort(pick);
        return pick;
    }

    @Override
    public Iterable<Batch> batches(Dataset dataset, int[] indices, int batchSize) {
        return () -> new BatchIterator(dataset, indices, Math.max(1, batchSize), decodeThreads);
    }

    @Override
    public Statistics collect(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests) {
        return passes.collect(this, model, dataset, indices, requests);
    }

    @Override
    public Evaluation evaluate(Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
        return passes.evaluate(this, model, reference, metric, dataset, indices);
    }

    /** Where {@link #collect} and {@link #evaluate} run. */
    public PassRunner passes() { return passes; }

    /** How to reopen {@code datasetOrMetric} in another JVM, if it came from the pipeline config. */
    public Optional<Recipe> recipe(Object datasetOrMetric) { return Optional.ofNullable(recipes.get(datasetOrMetric)); }

    /** Records that {@code model} was read from {@code path}; returns this context. */
    public HostContext withModelPath(Model model, Path path) {
        if (model != null && path != null) modelPaths.put(model, path);
        return this;
    }

    /** The file {@code model} was read from, if known. */
    public Optional<Path> modelPath(Model model) { return Optional.ofNullable(modelPaths.get(model)); }

    /** The checks an evaluation makes before any inference. */
    public static void checkEvaluation(Model reference, Metric metric, Dataset dataset, int[] indices) {
        Evaluator.check(reference, metric, dataset, indices);
    }

    /** One shard of an evaluation, in this JVM: the metric's accumulator and per-sample values (not merged, not finished). */
    public Evaluator.Partial evaluatePartial(Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
        return new Evaluator(this, engine, threads, batchSize).partial(model, reference, metric, dataset, indices);
    }

    /**
     * One shard of a statistics pass, in this JVM: a collector per distinct request (request order),
     * fed with the initializers and/or the samples at {@code indices}.
     */
    public Map<StatisticRequest, org.ptq4j.spi.stats.Collector> collectPartial(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests,
                                                                                boolean initializers, boolean activations) {
        return new StatisticsPass(this, engine, threads).partial(model, dataset, indices, requests, initializers, activations);
    }

    /** The statistics of merged collectors over {@code samples} samples. */
    public static Statistics statistics(Map<StatisticRequest, org.ptq4j.spi.stats.Collector> merged, int samples) {
        return StatisticsPass.finish(merged, samples);
    }

    @Override public void save(Model model, Path path) { OnnxIO.write(model, path); }
    @Override public Progress progress(String task, long total) { return progress.apply(task, total); }
    @Override public Report report() { return report; }
    @Override public Logger log() { return log; }

    @Override
    public synchronized Path workDir() {
        if (workDir == null) {
            try {
                workDir = Files.createTempDirectory("ptq-run");
            } catch (IOException e) {
                throw new PtqException("cannot create a scratch folder: " + e.getMessage(), e);
            }
        }
        return workDir;
    }

    @Override public int threads() { return threads; }
    @Override public int batchSize() { return batchSize; }

    /** Deletes the scratch folder (the pass runner is closed by whoever opened it). */
    @Override
    public void close() {
        if (workDir != null) {
            try (var s = Files.walk(workDir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) { }
        }
    }

    public static final class Builder {
        private InferenceEngine engine;
        private Registry registry;
        private final Map<String, Dataset> datasets = new LinkedHashMap<>();
        private Metric metric;
        private int threads = 0;
        private int batchSize = 32;
        private int decodeThreads = Math.max(1, Runtime.getRuntime().availableProcessors());
        private Report report;
        private BiFunction<String, Long, Progress> progress;
        private BiFunction<List<ParamSpec>, Map<String, Object>, Params> paramBinder;
        private PassRunner passes;
        private final Map<Object, Recipe> recipes = new java.util.IdentityHashMap<>();
        private final Map<Model, Path> modelPaths = new java.util.IdentityHashMap<>();

        public Builder engine(InferenceEngine e) { this.engine = e; return this; }
        public Builder registry(Registry r) { this.registry = r; return this; }
        public Builder dataset(String role, Dataset d) { if (d != null) datasets.put(role, d); return this; }
        public Builder metric(Metric m) { this.metric = m; return this; }
        /** Intra-op threads of engine sessions (0: engine default). */
        public Builder threads(int t) { this.threads = t; return this; }
        public Builder batchSize(int b) { this.batchSize = b; return this; }
        public Builder decodeThreads(int t) { this.decodeThreads = Math.max(1, t); return this; }
        public Builder report(Report r) { this.report = r; return this; }
        public Builder progress(BiFunction<String, Long, Progress> p) { this.progress = p; return this; }
        /** How nested algorithm parameters are validated (the config validator; default: defaults only). */
        public Builder paramBinder(BiFunction<List<ParamSpec>, Map<String, Object>, Params> b) { this.paramBinder = b; return this; }

        /** Where statistics and evaluation run (default {@link PassRunner#LOCAL}). */
        public Builder passes(PassRunner p) { this.passes = p; return this; }
        /** How a cluster reopens {@code datasetOrMetric} on its executors. */
        public Builder recipe(Object datasetOrMetric, Recipe r) { if (datasetOrMetric != null && r != null) recipes.put(datasetOrMetric, r); return this; }
        /** The file {@code model} was read from (executors read it by path). */
        public Builder modelPath(Model model, Path path) { if (model != null && path != null) modelPaths.put(model, path); return this; }

        public HostContext build() {
            if (engine == null) throw new IllegalStateException("engine not set");
            return new HostContext(this);
        }
    }
}
