package org.ptq4j.spi.data;

import org.ptq4j.spi.tensor.Tensor;

import java.util.Map;

/**
 * One item of a dataset: a tensor per model input, without the batch axis, and an optional
 * annotation (e.g. an INT64 scalar class label).
 *
 * @param index      position in the dataset
 * @param id         a name for messages (file name, row number)
 * @param inputs     model input name to tensor (no batch axis)
 * @param annotation label or other ground truth, or null
 */
public record Sample(int index, String id, Map<String, Tensor> inputs, Tensor annotation) {}
