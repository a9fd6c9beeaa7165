package org.ptq4j.api;

import java.nio.file.Path;
import java.util.List;

/**
 * Latency of several models run interleaved on the same inputs.
 *
 * @param batch   samples per run
 * @param threads intra-op threads
 * @param warmup  warm-up runs per model
 * @param runs    timed runs per model
 * @param models  one entry per model, in the order given (the first is the baseline)
 */
public record BenchmarkResult(int batch, int threads, int warmup, int runs, List<Model> models) {
    public BenchmarkResult {
        models = List.copyOf(models);
    }

    /**
     * @param model        the model file
     * @param medianMillis median latency of one run
     * @param p90Millis    90th percentile latency
     * @param samplesPerSecond throughput at the median latency
     * @param speedup      the first model's median divided by this model's
     */
    public record Model(Path model, double medianMillis, double p90Millis, double samplesPerSecond, double speedup) {}
}
