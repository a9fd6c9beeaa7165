package org.ptq4j.host.run;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One pass over a dataset collecting every requested statistic: the requested intermediate
 * tensors become extra outputs of one session; each batch's values update the collectors (in a
 * second thread, overlapping the next inference) and are then dropped. Memory holds two batches
 * of requested tensors; the batch size is chosen so that they stay under {@link #BUDGET_BYTES}.
 */
final class StatisticsPass {
    static final long BUDGET_BYTES = 256L << 20;
    private final HostContext ctx;
    private final InferenceEngine engine;
    private final int threads;

    StatisticsPass(HostContext ctx, InferenceEngine engine, int threads) {
        this.ctx = ctx;
        this.engine = engine;
        this.threads = threads;
    }

    Statistics run(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests) {
        if (indices.length == 0) throw new PtqException("the calibration dataset is empty: statistics need at least one sample");
        return finish(partial(model, dataset, indices, requests, true, true), indices.length);
    }

    /**
     * The collectors of {@code requests} (one per distinct request, in request order) fed with the
     * model's initializers (when {@code initializers}) and with the samples at {@code indices} (when
     * {@code activations}). A sharded pass feeds initializers once and activations per shard, then
     * merges the shards' collectors in index order.
     */
    Map<StatisticRequest, Collector> partial(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests,
                                             boolean initializers, boolean activations) {
        Map<StatisticRequest, Collector> collectors = new LinkedHashMap<>();
        for (StatisticRequest r : requests) collectors.computeIfAbsent(r, k -> k.spec().create());
        Map<String, List<Collector>> byTensor = new LinkedHashMap<>();
        collectors.forEach((r, c) -> byTensor.computeIfAbsent(r.tensor(), k -> new ArrayList<>()).add(c));

        Graph g = model.graph();
        Set<String> feedNames = new LinkedHashSet<>();
        g.feedInputs().forEach(v -> feedNames.add(v.name()));
        List<String> outputs = new ArrayList<>();
        for (String t : byTensor.keySet()) {
            if (g.isInitializer(t)) {
                if (initializers) for (Collector c : byTensor.get(t)) c.update(g.initializer(t).orElseThrow());
            } else if (!feedNames.contains(t)) {
                if (g.producer(t) == null) throw new PtqException("statistics requested for tensor '" + t + "', which no node of the model produces");
                outputs.add(t);
            }
        }
        if (activations && !byTensor.isEmpty() && indices.length > 0) pass(model, dataset, indices, byTensor, feedNames, outputs);
        return collectors;
    }

    /** The statistics of merged collectors over {@code samples} samples. */
    static Statistics finish(Map<StatisticRequest, Collector> collectors, int samples) {
        Map<StatisticRequest, Object> results = new HashMap<>();
        collectors.forEach((r, c) -> results.put(r, c.result()));
        int seen = collectors.isEmpty() ? 0 : samples;
        return new Statistics() {
            @Override public Object get(StatisticRequest request) {
                Object v = results.get(request);
                if (v == null) throw new IllegalStateException("statistic not collected: " + request);
                return v;
            }
            @Override public boolean has(StatisticRequest request) { return results.containsKey(request); }
            @Override public int samples() { return seen; }
        };
    }

    private int pass(Model model, Dataset dataset, int[] indices, Map<String, List<Collector>> byTensor, Set<String> feedNames, List<String> outputs) {
        ExecutorService updater = Executors.newSingleThreadExecutor(r -> { Thread t = new Thread(r, "ptq-stats"); t.setDaemon(true); return t; });
        Future<?> pending = null;
        try (Session s = engine.open(model, SessionOptions.defaults().withThreads(threads).withExtraOutputs(outputs));
             Progress p = ctx.progress("Collecting statistics", indices.length)) {
            // the first batch (one sample, unless the model fixes its batch size) measures how large the requested
            // tensors are; the rest streams in batches sized to keep them under the memory budget
            boolean fixedBatch = Feeds.hasFixedBatch(model);
            int batch = Feeds.batchSize(model, 1);
            int first = Math.min(indices.length, batch);
            for (int start = 0, end = first; start < indices.length; start = end, end = indices.length) {
                boolean measuring = start == 0;
                for (Batch b : ctx.batches(dataset, Arrays.copyOfRange(indices, start, end), measuring ? first : batch)) {
                    Map<String, Tensor> feeds = Feeds.match(model, b.inputs());
                    Feeds.checkFinite(feeds, b.indices(), "calibration");
                    Map<String, Tensor> out = outputs.isEmpty() ? new HashMap<>() : new HashMap<>(s.run(feeds, outputs));
                    for (String f : feedNames) if (byTensor.containsKey(f)) out.put(f, feeds.get(f));
                    if (pending != null) pending.get();
                    pending = updater.submit(() -> {
                        for (Map.Entry<String, Tensor> e : out.entrySet()) {
                            List<Collector> cs = byTensor.get(e.getKey());
                            if (cs != null) for (Collector c : cs) c.update(e.getValue());
                        }
                    });
                    p.advance(b.size());
                    if (measuring && !fixedBatch) batch = adaptiveBatch(out, b.size());
                }
            }
            if (pending != null) pending.get();
            return indices.length;
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            throw new IllegalStateException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            updater.shutdownNow();
        }
    }

    private int adaptiveBatch(Map<String, Tensor> out, int n) {
        long bytes = 0;
        for (Tensor t : out.values()) bytes += (long) t.bytes().remaining();
        long perSample = Math.max(1, bytes / Math.max(1, n));
        return (int) Math.max(1, Math.min(ctx.batchSize(), BUDGET_BYTES / 2 / perSample));
    }
}
