package org.ptq4j.plugins.data.numpy;

import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Rows of (memory-mapped) arrays; each {@link #get} slices one row per input and converts it. Thread-safe. */
final class NumpyDataset implements Dataset {
    /** One model input's source: its array (axis 0 = samples) and per-sample conversion. */
    record Input(String name, String file, Tensor array, long[] sampleShape, Normalize normalize) {}

    private final List<Input> inputs;
    private final int size;
    private final long[] labels;

    NumpyDataset(List<Input> inputs, int size, long[] labels) {
        this.inputs = List.copyOf(inputs);
        this.size = size;
        this.labels = labels;
    }

    @Override public int size() { return size; }

    @Override public boolean annotated() { return labels != null; }

    @Override
    public Sample get(int index) {
        if (index < 0 || index >= size) throw new IndexOutOfBoundsException("row " + index + " of " + size);
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        for (Input in : inputs) {
            Tensor row = in.array().slice0(index, index + 1).reshape(in.sampleShape());
            feeds.put(in.name(), in.normalize().apply(row));
        }
        Tensor label = labels == null ? null : Tensor.ofLongs(new long[0], new long[]{labels[index]});
        return new Sample(index, inputs.get(0).file() + "[" + index + "]", feeds, label);
    }
}
