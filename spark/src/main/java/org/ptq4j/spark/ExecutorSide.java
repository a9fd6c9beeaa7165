package org.ptq4j.spark;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.Evaluator;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.StatisticRequest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs one shard on an executor with the host's own single-machine code
 * ({@link HostContext#evaluatePartial}, {@link HostContext#collectPartial}): reads the models by
 * path, reopens the dataset and metric from their recipes with this JVM's plugins, opens one ONNX
 * Runtime session per model, and returns only the accumulator or collectors.
 */
final class ExecutorSide {
    /** Registries of drivers in this JVM (local masters), by key. */
    static final Map<String, Registry> DRIVER_REGISTRIES = new ConcurrentHashMap<>();
    /** Plugins loaded by this executor JVM, by plugin folders. */
    private static final Map<List<String>, Registry> LOADED = new ConcurrentHashMap<>();
    private static volatile OrtEngine engine;

    private ExecutorSide() {}

    static ShardResult evaluate(Job job, Shards.Slice slice) {
        try {
            Registry reg = registry(job);
            Model model = model(job.model());
            Model ref = job.reference() == null ? null : job.reference().equals(job.model()) ? model : model(job.reference());
            Model shape = ref != null ? ref : model;
            try (Dataset ds = job.dataset().openDataset(reg, shape); HostContext ctx = context(job, reg, ds)) {
                Metric metric = job.metric().createMetric(reg, shape);
                Evaluator.Partial p = ctx.evaluatePartial(model, ref, metric, ds, slice.indices());
                return new ShardResult(slice.part(), Shards.bytes(p.accumulator()), p.perSample(), slice.indices().length);
            }
        } catch (Throwable t) {
            throw failure(slice, t);
        }
    }

    static ShardResult collect(Job job, Shards.Slice slice) {
        try {
            Registry reg = registry(job);
            Model model = model(job.model());
            List<StatisticRequest> requests = Shards.requests(Shards.<java.util.ArrayList<Object>>read(job.requests(), Shards.loaders(reg)));
            try (Dataset ds = job.dataset().openDataset(reg, model); HostContext ctx = context(job, reg, ds)) {
                Map<StatisticRequest, Collector> cs = ctx.collectPartial(model, ds, slice.indices(), requests, false, true);
                return new ShardResult(slice.part(), Shards.bytes(new ArrayList<>(cs.values())), null, slice.indices().length);
            }
        } catch (Throwable t) {
            throw failure(slice, t);
        }
    }

    private static HostContext context(Job job, Registry reg, Dataset ds) {
        // parallelism comes from Spark's tasks: one decode thread per task
        return HostContext.builder().engine(engine()).registry(reg).dataset(job.dataset().role(), ds)
                .threads(job.threads()).batchSize(job.batchSize()).decodeThreads(1).build();
    }

    private static Model model(String path) {
        Path p = Path.of(path);
        if (!Files.isReadable(p)) throw new PtqException("this executor cannot read the model " + path + " (models reach executors by path: use storage every executor mounts, see cluster.work_dir)");
        try {
            return OnnxIO.read(p);
        } catch (RuntimeException e) {
            throw new PtqException("this executor cannot read the model " + path + ": " + e.getMessage(), e);
        }
    }

    private static Registry registry(Job job) {
        Registry r = DRIVER_REGISTRIES.get(job.registryKey());
        if (r != null) return r;
        return LOADED.computeIfAbsent(job.pluginDirs(), dirs -> PluginLoader.load(dirs.stream().map(Path::of).toList()).registry());
    }

    private static OrtEngine engine() {
        if (engine == null) {
            synchronized (ExecutorSide.class) {
                if (engine == null) engine = new OrtEngine();   // loads the ONNX Runtime natives in this executor JVM
            }
        }
        return engine;
    }

    /** A task failure whose message (which Spark carries to the driver) names the shard and the cause. */
    private static RuntimeException failure(Shards.Slice slice, Throwable t) {
        int[] i = slice.indices();
        String where = "shard " + slice.part() + " (dataset indices " + (i.length == 0 ? "none" : i[0] + ".." + i[i.length - 1]) + ")";
        String cause = t instanceof PtqException ? t.getMessage() : t.getClass().getName() + ": " + t.getMessage();
        return new ShardFailure(where + ": " + cause, t);
    }

    /** Marks failures of ptq's own shard code in Spark's task failure messages. */
    static final class ShardFailure extends RuntimeException {
        static final String MARK = "ptq shard failed: ";

        ShardFailure(String message, Throwable cause) { super(MARK + message, cause); }
    }
}
