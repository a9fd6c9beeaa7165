package org.ptq4j.api;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Samples given as Java objects: the calibration set (and, with labels, a validation set) of a
 * {@link Ptq#quantize quantization}, or the data of an {@link Ptq#evaluate evaluation}. NNCF's
 * {@code nncf.Dataset(data, transform_fn)} in Java:
 * <pre>{@code
 * Data<Image> calib = Data.of(images, img -> Map.of("input", img.pixels()));   // input name -> values
 * Data<float[]> rows = Data.ofFloats(listOfFloatArrays);                     // a model with one input
 * Data<Item> val = Data.ofFloats(items, Item::pixels).labels(Item::label);   // annotated (class ids)
 * }</pre>
 * Each value array holds one sample <em>without</em> the batch axis, in row-major order; its shape
 * comes from the model input's declared shape (the first axis is the batch axis; one symbolic axis,
 * e.g. a sequence length, is inferred from the array's length). Values are converted to the input's
 * element type (e.g. int64 token ids). The items are copied into a list when the {@code Data} is
 * made; the transform runs lazily, on several threads, and must therefore be thread-safe.
 *
 * @param <T> the application's item type
 */
public final class Data<T> {
    /** Key of {@link #ofFloats} values: the model's first (or only) input, whatever its name. */
    static final String FIRST_INPUT = "";

    private final List<T> items;
    private final Function<T, Map<String, float[]>> transform;
    private final ToLongFunction<T> labels;

    private Data(List<T> items, Function<T, Map<String, float[]>> transform, ToLongFunction<T> labels) {
        this.items = items;
        this.transform = transform;
        this.labels = labels;
    }

    /** Items and a transform to model inputs ({@code input name -> values of one sample}). */
    public static <T> Data<T> of(Iterable<? extends T> items, Function<T, Map<String, float[]>> transform) {
        Objects.requireNonNull(items, "items");
        Objects.requireNonNull(transform, "transform");
        List<T> list = new ArrayList<>();
        for (T t : items) list.add(t);
        return new Data<>(List.copyOf(list), transform, null);
    }

    /** Items and a transform to the values of the model's only (or first) input. */
    public static <T> Data<T> ofFloats(Iterable<? extends T> items, Function<T, float[]> values) {
        Objects.requireNonNull(values, "values");
        return of(items, t -> Map.of(FIRST_INPUT, values.apply(t)));
    }

    /** Ready-made samples for the model's only (or first) input. */
    public static Data<float[]> ofFloats(Iterable<float[]> samples) {
        return ofFloats(samples, Function.identity());
    }

    /** The same samples annotated with an integer label each (e.g. a class id, as the {@code accuracy} metric expects). */
    public Data<T> labels(ToLongFunction<T> label) {
        return new Data<>(items, transform, Objects.requireNonNull(label, "label"));
    }

    public int size() { return items.size(); }

    public boolean labeled() { return labels != null; }

    /** A host dataset over these samples for a model with {@code inputs}. */
    Dataset open(DatasetContext ctx) {
        List<ValueInfo> inputs = ctx.modelInputs();
        if (inputs.isEmpty()) throw new PtqException("the model has no inputs to feed");
        return new Dataset() {
            @Override public int size() { return items.size(); }
            @Override public boolean annotated() { return labels != null; }
            @Override public Sample get(int index) {
                T item = items.get(index);
                Map<String, float[]> values;
                try {
                    values = transform.apply(item);
                } catch (RuntimeException e) {
                    throw new PtqException("sample " + index + ": the transform failed: " + e, e);
                }
                if (values == null || values.isEmpty()) throw new PtqException("sample " + index + ": the transform returned no input values");
                Map<String, Tensor> feeds = new LinkedHashMap<>();
                for (var e : values.entrySet()) {
                    ValueInfo in = e.getKey().equals(FIRST_INPUT) ? inputs.get(0) : inputs.stream().filter(v -> v.name().equals(e.getKey())).findFirst()
                            .orElseThrow(() -> new PtqException("sample " + index + ": the model has no input '" + e.getKey() + "'; its inputs: "
                                    + String.join(", ", inputs.stream().map(ValueInfo::name).toList())));
                    feeds.put(in.name(), tensor(in, e.getValue(), index));
                }
                for (ValueInfo v : inputs)
                    if (!feeds.containsKey(v.name())) throw new PtqException("sample " + index + ": no values for model input '" + v.name() + "'");
                Tensor label = labels == null ? null : Tensor.ofLongs(new long[0], new long[]{labels.applyAsLong(item)});
                return new Sample(index, "sample " + index, feeds, label);
            }
        };
    }

    /** One sample's values shaped as {@code in} without its batch axis. */
    static Tensor tensor(ValueInfo in, float[] values, int index) {
        if (values == null) throw new PtqException("sample " + index + ": no values for input '" + in.name() + "'");
        long[] shape;
        if (in.shape() == null || in.shape().isEmpty()) shape = new long[]{values.length};
        else {
            List<Dim> dims = in.shape().subList(1, in.shape().size());
            shape = new long[dims.size()];
            long known = 1;
            int free = -1;
            for (int i = 0; i < shape.length; i++) {
                if (dims.get(i).isFixed()) { shape[i] = dims.get(i).value(); known *= shape[i]; }
                else if (free < 0) free = i;
                else { shape[i] = 1; }
            }
            if (free >= 0 && known > 0 && values.length % known == 0) shape[free] = values.length / known;
            if (Tensor.numElements(shape) != values.length)
                throw new PtqException("sample " + index + ": " + values.length + " values do not fit input '" + in.name() + "' of shape " + in.shape()
                        + " (one sample, without the batch axis: " + Arrays.toString(shape) + ")");
        }
        Tensor t = Tensor.ofFloats(shape, values.clone());
        return in.dtype() != null && in.dtype() != DType.FLOAT ? t.to(in.dtype()) : t;
    }
}
