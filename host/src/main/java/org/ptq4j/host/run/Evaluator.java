package org.ptq4j.host.run;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.tensor.Tensor;

import java.util.List;
import java.util.Map;

/** Runs a model (and its reference when the metric needs one) over samples, feeding the metric's accumulator. */
public final class Evaluator {
    private final HostContext ctx;
    private final InferenceEngine engine;
    private final int threads;
    private final int batchSize;

    Evaluator(HostContext ctx, InferenceEngine engine, int threads, int batchSize) {
        this.ctx = ctx;
        this.engine = engine;
        this.threads = threads;
        this.batchSize = batchSize;
    }

    /**
     * What one shard of an evaluation produces: the metric's mergeable accumulator and the
     * per-sample values (in the order of the shard's indices).
     */
    public record Partial(Metric.Accumulator accumulator, double[] perSample) {}

    Evaluation run(Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
        check(reference, metric, dataset, indices);
        Partial p = partial(model, reference, metric, dataset, indices);
        return new Evaluation(metric.name(), p.accumulator().value(), p.perSample(), indices.length);
    }

    /** The checks made before any inference (on the driver, when the shards run elsewhere). */
    static void check(Model reference, Metric metric, Dataset dataset, int[] indices) {
        if (indices.length == 0) throw new PtqException("the evaluation dataset is empty");
        if (metric.needsAnnotations() && !dataset.annotated())
            throw new PtqException("metric '" + metric.name() + "' needs annotated data (labels), but the dataset has none");
        if (metric.needsReference() && reference == null)
            throw new PtqException("metric '" + metric.name() + "' compares with a reference model, but none was given");
    }

    /** Runs the samples at {@code indices} (one session per model) and returns the accumulator, not its value. */
    Partial partial(Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
        SessionOptions so = SessionOptions.defaults().withThreads(threads);
        double[] perSample = new double[indices.length];
        Metric.Accumulator acc = metric.newAccumulator();
        int bs = Feeds.batchSize(model, batchSize);
        try (Session s = engine.open(model, so);
             Session r = metric.needsReference() ? engine.open(reference, so) : null;
             Progress p = ctx.progress("Evaluating " + metric.name(), indices.length)) {
            int pos = 0;
            for (Batch b : ctx.batches(dataset, indices, bs)) {
                Map<String, Tensor> feeds = Feeds.match(model, b.inputs());
                Map<String, Tensor> out = s.run(feeds);
                Map<String, Tensor> ref = r == null ? null : r.run(Feeds.match(reference, b.inputs()));
                List<Tensor> ann = metric.needsAnnotations() ? b.annotations() : null;
                double[] v;
                try {
                    v = acc.update(out, ref, ann, feeds);
                } catch (PtqException e) {
                    throw new PtqException(e.getMessage() + " (batch of dataset indices " + describe(b.indices()) + ")", e);
                }
                System.arraycopy(v, 0, perSample, pos, v.length);
                pos += b.size();
                p.advance(b.size());
            }
        }
        return new Partial(acc, perSample);
    }

    private static String describe(int[] idx) {
        return idx.length <= 8 ? java.util.Arrays.toString(idx) : idx[0] + ".." + idx[idx.length - 1];
    }
}
