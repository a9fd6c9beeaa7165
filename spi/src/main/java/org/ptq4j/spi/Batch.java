package org.ptq4j.spi;

import org.ptq4j.spi.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * Consecutive samples stacked along a new axis 0.
 *
 * @param indices     dataset indices of the samples, in order
 * @param inputs      model input name to batched tensor
 * @param annotations per-sample annotations (entries may be null)
 */
public record Batch(int[] indices, Map<String, Tensor> inputs, List<Tensor> annotations) {
    public int size() { return indices.length; }
}
