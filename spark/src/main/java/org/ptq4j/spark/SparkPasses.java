package org.ptq4j.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.host.run.Recipe;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Statistics and evaluation sharded over Spark partitions by index range. Each task runs its shard
 * with the host's single-machine code ({@link ExecutorSide}) and returns only the metric's
 * accumulator (plus per-sample values) or the collectors; the driver merges them in index order, so
 * min/max ranges and count-based metrics equal the single-machine result exactly.
 * <p>
 * Datasets and metrics the pipeline config did not create (no {@link Recipe}) run locally.
 */
final class SparkPasses implements PassRunner {
    private static final Logger LOG = LoggerFactory.getLogger("ptq");
    private final JavaSparkContext jsc;
    private final boolean owned;
    private final String registryKey = UUID.randomUUID().toString();
    private final List<String> pluginDirs;
    private final int partitions;
    private final int maxFailures;
    private final Path workDir;
    private final List<Path> written = new ArrayList<>();
    private final AtomicInteger models = new AtomicInteger();

    SparkPasses(JavaSparkContext jsc, boolean owned, Registry registry, List<Path> pluginDirs, int partitions, int maxFailures, Path workDir) {
        this.jsc = jsc;
        this.owned = owned;
        this.pluginDirs = pluginDirs.stream().map(Path::toString).toList();
        this.partitions = partitions;
        this.maxFailures = maxFailures;
        this.workDir = workDir;
        ExecutorSide.DRIVER_REGISTRIES.put(registryKey, registry);
    }

    /** Shards per pass. */
    int parallelism() { return partitions > 0 ? partitions : jsc.defaultParallelism(); }

    SparkContext context() { return jsc.sc(); }

    @Override
    public Evaluation evaluate(HostContext ctx, Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
        HostContext.checkEvaluation(reference, metric, dataset, indices);
        Optional<Recipe> data = ctx.recipe(dataset), m = ctx.recipe(metric);
        if (data.isEmpty() || m.isEmpty()) {
            LOG.debug("evaluation of a dataset or metric not from the pipeline config runs in this JVM");
            return PassRunner.LOCAL.evaluate(ctx, model, reference, metric, dataset, indices);
        }
        Job job = new Job(registryKey, pluginDirs, path(ctx, model), metric.needsReference() ? path(ctx, reference) : null,
                data.get(), m.get(), null, ctx.threads(), ctx.batchSize());
        List<ShardResult> results;
        try (Progress p = ctx.progress("Evaluating " + metric.name(), indices.length)) {
            results = run(Shards.split(indices, parallelism(), ctx.batchSize()), job, true);
            p.advance(indices.length);
        }
        List<ClassLoader> loaders = Shards.loaders(ctx.registry(), metric.newAccumulator(), metric);
        Metric.Accumulator acc = null;
        double[] perSample = new double[indices.length];
        int pos = 0;
        for (ShardResult r : results) {
            Metric.Accumulator a = Shards.read(r.state(), loaders);
            if (acc == null) acc = a;
            else acc.merge(a);
            System.arraycopy(r.perSample(), 0, perSample, pos, r.perSample().length);
            pos += r.samples();
        }
        return new Evaluation(metric.name(), acc.value(), perSample, indices.length);
    }

    @Override
    public Statistics collect(HostContext ctx, Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests) {
        if (indices.length == 0) throw new PtqException("the calibration dataset is empty: statistics need at least one sample");
        Optional<Recipe> data = ctx.recipe(dataset);
        if (data.isEmpty()) {
            LOG.debug("statistics on a dataset not from the pipeline config run in this JVM");
            return PassRunner.LOCAL.collect(ctx, model, dataset, indices, requests);
        }
        // on the driver: the checks, and the initializers' statistics (once); the samples run on the executors
        Map<StatisticRequest, Collector> merged = ctx.collectPartial(model, dataset, new int[0], requests, true, false);
        if (!merged.isEmpty()) {
            Job job = new Job(registryKey, pluginDirs, path(ctx, model), null, data.get(), null, Shards.bytes(Shards.requests(requests)),
                    ctx.threads(), ctx.batchSize());
            List<ShardResult> results;
            try (Progress p = ctx.progress("Collecting statistics", indices.length)) {
                results = run(Shards.split(indices, parallelism(), ctx.batchSize()), job, false);
                p.advance(indices.length);
            }
            List<Object> specs = new ArrayList<>();
            for (StatisticRequest r : requests) specs.add(r.spec());
            List<ClassLoader> loaders = Shards.loaders(ctx.registry(), specs.toArray());
            for (ShardResult r : results) {
                List<Collector> part = Shards.read(r.state(), loaders);
                Iterator<Collector> it = part.iterator();
                for (Collector c : merged.values()) c.merge(it.next());
            }
        }
        return HostContext.statistics(merged, indices.length);
    }

    private List<ShardResult> run(List<Shards.Slice> slices, Job job, boolean evaluation) {
        try {
            var rdd = jsc.parallelize(slices, slices.size());
            List<ShardResult> out = new ArrayList<>(evaluation
                    ? rdd.map(s -> ExecutorSide.evaluate(job, s)).collect()
                    : rdd.map(s -> ExecutorSide.collect(job, s)).collect());
            out.sort(java.util.Comparator.comparingInt(ShardResult::part));
            return out;
        } catch (Exception e) {
            throw new PtqException("cluster: " + (evaluation ? "evaluation" : "statistics collection") + " failed on the executors after "
                    + maxFailures + " attempt(s) of a task: " + cause(e), e);
        }
    }

    /** The shard's own message when a task failed in ptq code, else Spark's first line. */
    static String cause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            int i = m.indexOf(ExecutorSide.ShardFailure.MARK);
            if (i >= 0) {
                String s = m.substring(i + ExecutorSide.ShardFailure.MARK.length());
                int nl = s.indexOf('\n');
                return nl < 0 ? s : s.substring(0, nl);
            }
        }
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    /** The model's file, or a copy written to the work folder (models made during the run). */
    private String path(HostContext ctx, Model model) {
        Optional<Path> known = ctx.modelPath(model);
        if (known.isPresent()) return known.get().toAbsolutePath().toString();
        Path dir = workDir != null ? workDir : ctx.workDir();
        Path file = dir.resolve("ptq-model-" + registryKey.substring(0, 8) + "-" + models.incrementAndGet() + ".onnx");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new PtqException("cluster.work_dir: cannot create " + dir + " (" + e.getMessage() + ")", e);
        }
        OnnxIO.write(model, file);
        synchronized (written) { written.add(file); }
        ctx.withModelPath(model, file);
        return file.toAbsolutePath().toString();
    }

    @Override
    public void close() {
        ExecutorSide.DRIVER_REGISTRIES.remove(registryKey);
        synchronized (written) {
            for (Path p : written) {
                try { Files.deleteIfExists(p); } catch (IOException ignored) { }
            }
            written.clear();
        }
        if (owned) jsc.stop();
    }

    @Override public String toString() { return "spark " + jsc.master(); }
}
