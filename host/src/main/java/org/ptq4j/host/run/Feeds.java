package org.ptq4j.host.run;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Matching a batch's tensors to a model's inputs, and checks on the data. */
public final class Feeds {
    private Feeds() {}

    /** The model's feed inputs taken from {@code batch}; a single-input model accepts a single tensor under any name. */
    public static Map<String, Tensor> match(Model model, Map<String, Tensor> batch) {
        List<ValueInfo> want = model.graph().feedInputs();
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (want.size() == 1 && batch.size() == 1 && !batch.containsKey(want.get(0).name())) {
            out.put(want.get(0).name(), batch.values().iterator().next());
            return out;
        }
        for (ValueInfo v : want) {
            Tensor t = batch.get(v.name());
            if (t == null) throw new PtqException("model input '" + v.name() + "' gets no data: the dataset provides " + batch.keySet()
                    + "; map each model input to a source in the dataset's parameters");
            out.put(v.name(), t);
        }
        return out;
    }

    /** Throws when a floating-point input holds NaN or infinity, naming the input and dataset index. */
    static void checkFinite(Map<String, Tensor> feeds, int[] indices, String what) {
        for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
            Tensor t = e.getValue();
            if (!t.dtype().isFloatingPoint()) continue;
            FloatBuffer fb = t.dtype() == DType.FLOAT ? t.floatView() : FloatBuffer.wrap(t.floats());
            int per = (int) (t.numElements() / Math.max(1, indices.length));
            for (int i = 0, n = fb.limit(); i < n; i++) {
                float v = fb.get(i);
                if (!Float.isFinite(v)) {
                    throw new PtqException(what + " sample at index " + indices[Math.min(indices.length - 1, i / Math.max(1, per))]
                            + ": input '" + e.getKey() + "' contains " + (Float.isNaN(v) ? "NaN" : "infinity") + "; clean the data first");
                }
            }
        }
    }

    /** Whether some feed input fixes its leading (batch) dimension. */
    static boolean hasFixedBatch(Model model) {
        return model.graph().feedInputs().stream().anyMatch(v -> v.shape() != null && !v.shape().isEmpty() && v.shape().get(0).isFixed());
    }

    /** The batch size a model accepts: a fixed leading dimension of its inputs wins over {@code requested}. */
    public static int batchSize(Model model, int requested) {
        for (ValueInfo v : model.graph().feedInputs()) {
            if (v.shape() != null && !v.shape().isEmpty() && v.shape().get(0).isFixed()) return (int) v.shape().get(0).value();
        }
        return Math.max(1, requested);
    }
}
