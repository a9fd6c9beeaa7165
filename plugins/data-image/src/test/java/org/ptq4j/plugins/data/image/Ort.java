package org.ptq4j.plugins.data.image;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** ONNX Runtime used directly (no ptq4j host code): the independent side of the tests. */
final class Ort implements AutoCloseable {
    static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
    final OrtSession session;

    Ort(Path model) throws OrtException {
        var opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(1);
        session = ENV.createSession(model.toString(), opts);
    }

    /** The model inputs as ptq4j declares them (FLOAT inputs; -1 dims become the symbol 'batch'). */
    List<ValueInfo> inputs() throws OrtException {
        List<ValueInfo> out = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
            TensorInfo t = (TensorInfo) e.getValue().getInfo();
            List<Dim> dims = new ArrayList<>();
            for (long d : t.getShape()) dims.add(d < 0 ? Dim.named("batch") : Dim.of(d));
            out.add(new ValueInfo(e.getKey(), DType.FLOAT, dims));
        }
        return out;
    }

    /** Class scores [n, classes] for a float batch of {@code shape}. */
    float[][] logits(String input, float[] batch, long[] shape) throws OrtException {
        try (OnnxTensor x = OnnxTensor.createTensor(ENV, FloatBuffer.wrap(batch), shape);
             OrtSession.Result r = session.run(Map.of(input, x))) {
            return (float[][]) r.get(0).getValue();
        }
    }

    static int argmax(float[] v) {
        int b = 0;
        for (int j = 1; j < v.length; j++) if (v[j] > v[b]) b = j;
        return b;
    }

    @Override
    public void close() throws OrtException { session.close(); }
}
