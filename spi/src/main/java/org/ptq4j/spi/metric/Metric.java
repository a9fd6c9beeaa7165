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
         * Adds one batch and returns its per-sample values (length = batch size), used for ranking.
         *
         * @param outputs     model outputs for the batch (axis 0 = samples)
         * @param reference   reference model outputs, or null when not needed
         * @param annotations one annotation per sample, or null when not needed
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
