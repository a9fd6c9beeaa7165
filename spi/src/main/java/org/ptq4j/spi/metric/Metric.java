package org.ptq4j.spi.metric;

import org.ptq4j.spi.tensor.Tensor;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * A model quality measure, computed by mergeable accumulators so that evaluation can be split
 * across threads or machines and the partial results combined.
 */
public interface Metric {
    String name();

    /** Whether larger values are better (accuracy) or smaller (error). */
    boolean higherIsBetter();

    /** Needs the samples' annotations (labels). */
    boolean needsAnnotations();

    /** Needs the reference (FP32) model's outputs on the same inputs. */
    boolean needsReference();

    Accumulator newAccumulator();

    interface Accumulator extends Serializable {
        /**
         * Adds one batch and returns its per-sample values (length = batch size).
         * <p>
         * The per-sample values are what accuracy-aware quantization ranks layers and picks samples
         * with: each is the sample's own contribution in the metric's direction ({@link #higherIsBetter()}),
         * e.g. 1/0 for a correct/wrong top-1 prediction, a sample's cosine or squared error; for a
         * dataset-level metric (F1, mAP) return the sample's contribution, not the running aggregate.
         * The aggregate is {@link #value()}, not a mean of these values.
         *
         * @param outputs     model outputs for the batch by output name (axis 0 = samples)
         * @param reference   the reference (usually FP32) model's outputs on the same batch, or null
         *                    when {@link #needsReference()} is false
         * @param annotations one annotation per sample in batch order, or null when
         *                    {@link #needsAnnotations()} is false: whatever the dataset type produces;
         *                    classification datasets give an integer scalar class id (shape {@code []},
         *                    INT64 from the Java API and usually from {@code numpy}; read it with
         *                    {@code longs()[0]}, which converts any integer type)
         */
        double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations);

        /**
         * As {@link #update(Map, Map, List)}, also given the batch's model inputs (e.g. an attention
         * mask to pool token states with). The host calls this one; by default the inputs are ignored.
         */
        default double[] update(Map<String, Tensor> outputs, Map<String, Tensor> reference, List<Tensor> annotations, Map<String, Tensor> inputs) {
            return update(outputs, reference, annotations);
        }

        void merge(Accumulator other);

        /** The aggregate value over everything seen. */
        double value();

        long count();
    }
}
