package org.ptq4j.spi;

import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.slf4j.Logger;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What the host offers a running algorithm. */
public interface PipelineContext {
    /** The dataset with calibration samples (no annotations needed). */
    String CALIBRATION = "calibration";
    /** The annotated dataset used to judge accuracy. */
    String VALIDATION = "validation";

    InferenceEngine engine();

    /** A dataset of the pipeline by role ({@link #CALIBRATION}, {@link #VALIDATION}). */
    Optional<Dataset> dataset(String role);

    /** The pipeline's metric, if one is configured. */
    Optional<Metric> metric();

    /** Another installed algorithm, for composites (DefaultQuantization runs MinMax then bias correction). */
    Optional<Algorithm> algorithm(String name);

    /**
     * Validates {@code values} against {@code algorithm}'s parameters, filling defaults; a
     * composite uses it to hand its sub-steps their parameters.
     */
    Params params(Algorithm algorithm, Map<String, Object> values);

    /** Sample indices: the first {@code n} (or a seeded random choice of {@code n} with shuffle). */
    int[] subset(Dataset dataset, int n, long seed, boolean shuffle);

    /**
     * Batches of {@code indices}, decoded ahead in parallel and streamed (only a few batches are
     * held at a time).
     */
    Iterable<Batch> batches(Dataset dataset, int[] indices, int batchSize);

    /** Runs {@code model} over the samples and collects {@code requests} in one pass. */
    Statistics collect(Model model, Dataset dataset, int[] indices, List<StatisticRequest> requests);

    /**
     * Evaluates {@code metric} on {@code model} over the samples; when the metric needs a
     * reference, {@code reference} (usually the FP32 model) is run on the same batches.
     */
    Evaluation evaluate(Model model, Model reference, Metric metric, Dataset dataset, int[] indices);

    /** Writes a model atomically (e.g. intermediate models kept for debugging). */
    void save(Model model, Path path);

    Progress progress(String task, long total);

    Report report();

    Logger log();

    /** Scratch folder for this run (deleted at the end). */
    Path workDir();

    /** Intra-op threads for engine sessions (0: engine default). */
    int threads();

    /** Batch size to use for passes over data. */
    int batchSize();
}
