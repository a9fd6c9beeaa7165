package org.ptq4j.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a quantization produced.
 *
 * @param output             the written model
 * @param accuracy           FP32 vs result on the validation data, when a validation set and a metric were given (else null)
 * @param calibrationSamples samples the statistics were collected on (0 when no step needed statistics)
 * @param steps              the pipeline's steps in order, with their run time
 * @param inputBytes         size of the FP32 model file
 * @param outputBytes        size of the written model file
 * @param seconds            wall time of the whole run
 * @param report             the full report, section -> key -> value (what {@code ptq quantize --json} prints),
 *                           including algorithm-specific sections such as {@code AccuracyAwareQuantization}
 */
public record QuantizationResult(Path output, Accuracy accuracy, int calibrationSamples, List<Step> steps,
                                 long inputBytes, long outputBytes, double seconds, Map<String, Map<String, Object>> report) {
    public QuantizationResult {
        steps = List.copyOf(steps);
        report = Map.copyOf(report);
    }

    /** {@link #accuracy()}, when it was measured. */
    public Optional<Accuracy> accuracyIfMeasured() { return Optional.ofNullable(accuracy); }

    /** The metric of the FP32 model and of the result on the same samples. */
    public record Accuracy(String metric, int samples, double fp32, double quantized) {
        /** {@code quantized - fp32}. */
        public double delta() { return quantized - fp32; }
    }

    /** One pipeline step: the algorithm and how long it ran (seconds; statistics collection not included). */
    public record Step(String algorithm, double seconds) {}
}
