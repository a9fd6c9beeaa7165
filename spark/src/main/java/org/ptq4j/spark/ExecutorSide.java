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
    private static final Map<List<Object>, Dataset> DATASETS = lru(4);
    private static final Map<List<Object>, Model> MODELS = lru(4);
    static final int DECODE_THREADS = Math.max(2, Runtime.getRuntime().availableProcessors());

    private ExecutorSide() {}

    static ShardResult evaluate(Job job, Shards.Slice slice) {
        try {
            Registry reg = registry(job);
            Model model = model(job.model());
            Model ref = job.reference() == null ? null : job.reference().equals(job.model()) ? model : model(job.reference());
            Model shape = ref != null ? ref : model;
            Dataset ds = dataset(job, reg, shape);
            try (HostContext ctx = context(job, reg, ds)) {
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
            Dataset ds = dataset(job, reg, model);
            try (HostContext ctx = context(job, reg, ds)) {
                Map<StatisticRequest, Collector> cs = ctx.collectPartial(model, ds, slice.indices(), requests, false, true);
                return new ShardResult(slice.part(), Shards.bytes(new ArrayList<>(cs.values())), null, slice.indices().length);
            }
        } catch (Throwable t) {
            throw failure(slice, t);
        }
    }

    private static HostContext context(Job job, Registry reg, Dataset ds) {
        // samples are decoded ahead as on a single machine, overlapping inference
        return HostContext.builder().engine(engine()).registry(reg).dataset(job.dataset().role(), ds)
                .threads(job.threads()).batchSize(job.batchSize()).decodeThreads(DECODE_THREADS).build();
    }

    /**
     * The dataset of {@code job}, opened once per executor JVM and recipe (a pass runs many shards of
     * it; {@link Dataset#get} is thread-safe by contract). A handful are kept; older ones are dropped.
     */
    private static Dataset dataset(Job job, Registry reg, Model shape) {
        List<Object> key = List.of(job.dataset(), shape.graph().feedInputs().toString());
        synchronized (DATASETS) {
            Dataset d = DATASETS.get(key);
            if (d == null) {
                d = job.dataset().openDataset(reg, shape);
                DATASETS.put(key, d);
            }
            return d;
        }
    }

    /** The model at {@code path}, parsed once per executor JVM while the file is unchanged. */
    private static Model model(String path) {
        Path p = Path.of(path);
        List<Object> key;
        try {
            key = List.of(path, Files.getLastModifiedTime(p).toMillis(), Files.size(p));
        } catch (java.io.IOException e) {
            key = null;
        }
        if (key != null) {
            synchronized (MODELS) {
                Model m = MODELS.get(key);
                if (m != null) return m;
            }
        }
        Model m = readModel(p, path);
        if (key != null) synchronized (MODELS) { MODELS.put(key, m); }
        return m;
    }

    private static Model readModel(Path p, String path) {
        if (!Files.isReadable(p)) throw new PtqException("this executor cannot read the model " + path + " (models reach executors by path: use storage every executor mounts, see cluster.work_dir)");
        try {
            return OnnxIO.read(p);
        } catch (RuntimeException e) {
            throw new PtqException("this executor cannot read the model " + path + ": " + e.getMessage(), e);
        }
    }

    private static <V> Map<List<Object>, V> lru(int n) {
        return new java.util.LinkedHashMap<>(16, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<List<Object>, V> e) { return size() > n; }
        };
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
