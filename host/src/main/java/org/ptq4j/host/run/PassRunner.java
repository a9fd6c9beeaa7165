package org.ptq4j.host.run;

import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.List;

/**
 * Where the data passes of a run execute: statistics collection and evaluation. {@link #LOCAL}
 * runs them in this JVM; a cluster implementation (chosen by the pipeline's {@code cluster:} key,
 * see {@link ClusterFactory}) shards the indices, runs the shards elsewhere with
 * {@link HostContext#evaluatePartial} / {@link HostContext#collectPartial} and merges the
 * accumulators and collectors on the driver.
 */
public interface PassRunner extends AutoCloseable {
    Statistics collect(HostContext ctx, Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests);

    Evaluation evaluate(HostContext ctx, Model model, Model reference, Metric metric, Dataset dataset, int[] indices);

    /** Releases the cluster connection (nothing for {@link #LOCAL}). */
    @Override
    default void close() {}

    /** Everything in this JVM (the default). */
    PassRunner LOCAL = new PassRunner() {
        @Override
        public Statistics collect(HostContext ctx, Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests) {
            return new StatisticsPass(ctx, ctx.engine(), ctx.threads()).run(model, dataset, indices, requests);
        }

        @Override
        public Evaluation evaluate(HostContext ctx, Model model, Model reference, Metric metric, Dataset dataset, int[] indices) {
            return new Evaluator(ctx, ctx.engine(), ctx.threads(), ctx.batchSize()).run(model, reference, metric, dataset, indices);
        }

        @Override public String toString() { return "local"; }
    };
}
