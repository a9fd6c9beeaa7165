package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.Batch;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.Report;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.slf4j.Logger;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The context the base algorithm runs in while candidates are built: the pipeline's, except that
 * its report goes to a scratch {@link Report} per build (the base runs many times; only the
 * chosen model's report is copied into the run's) and its progress bars are silent.
 */
final class BaseContext implements PipelineContext {
    private final PipelineContext host;
    private ScratchReport report = new ScratchReport();

    BaseContext(PipelineContext host) { this.host = host; }

    /** Starts a fresh scratch report and returns it. */
    ScratchReport newReport() { report = new ScratchReport(); return report; }

    @Override public InferenceEngine engine() { return host.engine(); }
    @Override public Optional<Dataset> dataset(String role) { return host.dataset(role); }
    @Override public Optional<Metric> metric() { return host.metric(); }
    @Override public Optional<Algorithm> algorithm(String name) { return host.algorithm(name); }
    @Override public Params params(Algorithm algorithm, Map<String, Object> values) { return host.params(algorithm, values); }
    @Override public int[] subset(Dataset dataset, int n, long seed, boolean shuffle) { return host.subset(dataset, n, seed, shuffle); }
    @Override public Iterable<Batch> batches(Dataset dataset, int[] indices, int batchSize) { return host.batches(dataset, indices, batchSize); }
    @Override public Statistics collect(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests) { return host.collect(model, dataset, indices, requests); }
    @Override public Evaluation evaluate(Model model, Model reference, Metric metric, Dataset dataset, int[] indices) { return host.evaluate(model, reference, metric, dataset, indices); }
    @Override public void save(Model model, Path path) { host.save(model, path); }
    @Override public Progress progress(String task, long total) { return Progress.NONE; }
    @Override public Report report() { return report; }
    @Override public Logger log() { return host.log(); }
    @Override public Path workDir() { return host.workDir(); }
    @Override public int threads() { return host.threads(); }
    @Override public int batchSize() { return host.batchSize(); }

    /** A report kept as calls, replayable into another report. */
    static final class ScratchReport implements Report {
        private final List<Runnable> log = new ArrayList<>();
        private final Map<String, List<Runnable>> bySection = new LinkedHashMap<>();

        private void add(String section, Runnable r) {
            log.add(r);
            bySection.computeIfAbsent(section, k -> new ArrayList<>()).add(r);
        }
        private final Map<String, Object> view = new LinkedHashMap<>();
        private Report target;

        @Override public synchronized void put(String section, String key, Object value) {
            add(section, () -> target.put(section, key, value));
            view.put(section + "." + key, value);
        }

        @Override public synchronized void row(String section, String table, Map<String, Object> row) {
            Map<String, Object> copy = new LinkedHashMap<>(row);
            add(section, () -> target.row(section, table, copy));
        }

        @Override public synchronized void note(String section, String text) { add(section, () -> target.note(section, text)); }

        @Override public synchronized Map<String, Object> asMap() { return new LinkedHashMap<>(view); }

        /** Replays everything into {@code into}. */
        synchronized void replay(Report into) {
            target = into;
            log.forEach(Runnable::run);
            target = null;
        }

        /** Replays what was written to the sections {@code sections} accepts. */
        synchronized void replay(Report into, java.util.function.Predicate<String> sections) {
            for (Map.Entry<String, List<Runnable>> e : bySection.entrySet())
                if (sections.test(e.getKey())) {
                    target = into;
                    e.getValue().forEach(Runnable::run);
                    target = null;
                }
        }
    }
}
