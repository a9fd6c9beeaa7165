package org.ptq4j.spi.model;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A typed key of {@link Model#annotations()}: what one algorithm records on the model it returns
 * for the steps after it (annotations live in memory only; they are not written to the file).
 * <pre>{@code
 * List<String> layers = AnnotationKey.QUANTIZED_LAYERS.get(model).orElse(List.of());
 * AnnotationKey.FP32_MODEL.putIfAbsent(out, model);
 * }</pre>
 *
 * @param name the key in the annotation map
 * @param type the value's class (for {@code List<String>}: {@code List.class}); {@link #get} checks it
 * @param <T>  the value type
 */
public record AnnotationKey<T>(String name, Class<?> type) {
    /** {@code List<String>}: node names of the layers a quantizer quantized (Conv / Gemm / MatMul; FP32 names kept). */
    public static final AnnotationKey<List<String>> QUANTIZED_LAYERS = new AnnotationKey<>("ptq.quantized_layers", List.class);
    /** {@link Model}: the FP32 model the quantization started from (set once, by the first step that changes the model). */
    public static final AnnotationKey<Model> FP32_MODEL = new AnnotationKey<>("ptq.fp32_model", Model.class);
    /**
     * {@code List<String>}: node names a quantizer timed on this CPU and kept in FP32 because the model runs faster so
     * ({@code speed_check}); a step that re-runs the quantizer (accuracy-aware search) keeps them FP32 without timing again.
     */
    public static final AnnotationKey<List<String>> SPEED_FP32_NODES = new AnnotationKey<>("ptq.speed_fp32_nodes", List.class);

    public AnnotationKey {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
    }

    /** The value on {@code model}, if present; a value of another type is an error naming the key. */
    @SuppressWarnings("unchecked")
    public Optional<T> get(Model model) {
        Object v = model.annotations().get(name);
        if (v == null) return Optional.empty();
        if (!type.isInstance(v))
            throw new IllegalStateException("annotation '" + name + "' holds a " + v.getClass().getName() + ", expected " + type.getName());
        return Optional.of((T) v);
    }

    public void put(Model model, T value) { model.annotations().put(name, Objects.requireNonNull(value, "value")); }

    /** Sets the value unless one is present. */
    public void putIfAbsent(Model model, T value) { model.annotations().putIfAbsent(name, Objects.requireNonNull(value, "value")); }
}
