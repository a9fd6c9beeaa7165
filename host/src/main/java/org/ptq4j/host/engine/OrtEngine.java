package org.ptq4j.host.engine;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * ONNX Runtime behind the spi {@link InferenceEngine}. Sessions own native memory and must be
 * closed; input and output tensors are created and released inside {@link Session#run}, so what
 * a caller gets back lives on the Java heap.
 */
public final class OrtEngine implements InferenceEngine {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    @Override
    public Session open(Model model, SessionOptions options) {
        Model m = model;
        if (!options.extraOutputs().isEmpty()) {
            m = model.copy();
            LinkedHashSet<String> have = new LinkedHashSet<>();
            for (ValueInfo v : m.graph().outputs()) have.add(v.name());
            for (String extra : options.extraOutputs()) {
                if (have.add(extra)) m.graph().outputs().add(ValueInfo.nameOnly(extra));
            }
        }
        Path tmp = null;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            if (options.threads() > 0) so.setIntraOpNumThreads(options.threads());
            so.setInterOpNumThreads(1);
            // graph clean-up chatter (e.g. "Removing initializer ... not used by any node") is not the user's business
            so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            if (options.threads() != 1) so.addConfigEntry("session.intra_op.allow_spinning", "0");
            so.setOptimizationLevel(options.optimize() ? OrtSession.SessionOptions.OptLevel.ALL_OPT : OrtSession.SessionOptions.OptLevel.NO_OPT);
            if (options.optimizedModelPath() != null) so.setOptimizedModelFilePath(options.optimizedModelPath().toString());
            OrtSession s;
            if (OnnxIO.weightBytes(m) > OnnxIO.EXTERNAL_THRESHOLD) {
                tmp = Files.createTempDirectory("ptq-session");
                Path f = tmp.resolve("model.onnx");
                OnnxIO.write(m, f);
                s = env.createSession(f.toString(), so);
            } else {
                s = env.createSession(OnnxIO.toBytes(m), so);
            }
            return new OrtSessionHandle(env, s);
        } catch (OrtException e) {
            throw new PtqException("ONNX Runtime cannot load the model" + (model.source() != null ? " " + model.source() : "") + ": " + e.getMessage(), e);
        } catch (java.io.IOException e) {
            throw new PtqException("cannot stage the model for ONNX Runtime: " + e.getMessage(), e);
        } finally {
            if (tmp != null) deleteQuietly(tmp);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException ignored) { }
    }

    static DType dtype(OnnxJavaType t) {
        switch (t) {
            case FLOAT: return DType.FLOAT;
            case DOUBLE: return DType.DOUBLE;
            case INT8: return DType.INT8;
            case UINT8: return DType.UINT8;
            case INT16: return DType.INT16;
            case INT32: return DType.INT32;
            case INT64: return DType.INT64;
            case BOOL: return DType.BOOL;
            case FLOAT16: return DType.FLOAT16;
            case BFLOAT16: return DType.BFLOAT16;
            case STRING: return DType.STRING;
            default: throw new IllegalArgumentException("unsupported ONNX Runtime type " + t);
        }
    }

    static OnnxJavaType javaType(DType t) {
        switch (t) {
            case FLOAT: return OnnxJavaType.FLOAT;
            case DOUBLE: return OnnxJavaType.DOUBLE;
            case INT8: return OnnxJavaType.INT8;
            case UINT8: return OnnxJavaType.UINT8;
            case INT16: return OnnxJavaType.INT16;
            case INT32: return OnnxJavaType.INT32;
            case INT64: return OnnxJavaType.INT64;
            case BOOL: return OnnxJavaType.BOOL;
            case FLOAT16: return OnnxJavaType.FLOAT16;
            case BFLOAT16: return OnnxJavaType.BFLOAT16;
            default: throw new IllegalArgumentException("cannot feed " + t + " tensors to ONNX Runtime");
        }
    }

    private static final class OrtSessionHandle implements Session {
        private final OrtEnvironment env;
        private final OrtSession session;
        private final List<ValueInfo> inputs;
        private final List<ValueInfo> outputs;
        private final Map<String, ValueInfo> inputByName = new HashMap<>();

        OrtSessionHandle(OrtEnvironment env, OrtSession session) throws OrtException {
            this.env = env;
            this.session = session;
            this.inputs = infos(session.getInputInfo());
            this.outputs = infos(session.getOutputInfo());
            for (ValueInfo v : inputs) inputByName.put(v.name(), v);
        }

        private static List<ValueInfo> infos(Map<String, NodeInfo> m) {
            List<ValueInfo> r = new ArrayList<>();
            for (NodeInfo ni : m.values()) {
                if (ni.getInfo() instanceof TensorInfo ti) {
                    List<Dim> dims = new ArrayList<>();
                    long[] shape = ti.getShape();
                    String[] names = ti.getDimensionNames();
                    for (int i = 0; i < shape.length; i++) {
                        String nm = names != null && i < names.length && names[i] != null && !names[i].isEmpty() ? names[i] : null;
                        dims.add(shape[i] >= 0 ? Dim.of(shape[i]) : nm != null ? Dim.named(nm) : Dim.unknown());
                    }
                    DType dt;
                    try { dt = dtype(ti.type); } catch (IllegalArgumentException e) { dt = null; }
                    r.add(new ValueInfo(ni.getName(), dt, dims));
                } else {
                    r.add(ValueInfo.nameOnly(ni.getName()));
                }
            }
            return List.copyOf(r);
        }

        @Override public List<ValueInfo> inputs() { return inputs; }
        @Override public List<ValueInfo> outputs() { return outputs; }

        @Override
        public Map<String, Tensor> run(Map<String, Tensor> feeds) {
            List<String> names = new ArrayList<>();
            for (ValueInfo v : outputs) names.add(v.name());
            return run(feeds, names);
        }

        @Override
        public Map<String, Tensor> run(Map<String, Tensor> feeds, Collection<String> wanted) {
            Map<String, OnnxTensor> in = new LinkedHashMap<>();
            try {
                for (ValueInfo v : inputs) {
                    Tensor t = feeds.get(v.name());
                    if (t == null) throw new PtqException("model input '" + v.name() + "' (" + v.dtype() + " " + v.shape() + ") has no data; given: " + feeds.keySet());
                    check(v, t);
                    in.put(v.name(), toOrt(t));
                }
                try (OrtSession.Result res = session.run(in, new LinkedHashSet<>(wanted))) {
                    Map<String, Tensor> out = new LinkedHashMap<>();
                    for (Map.Entry<String, OnnxValue> e : res) {
                        if (e.getValue() instanceof OnnxTensor ot) out.put(e.getKey(), fromOrt(ot));
                    }
                    return out;
                }
            } catch (OrtException e) {
                throw new PtqException("ONNX Runtime failed to run the model: " + e.getMessage(), e);
            } finally {
                for (OnnxTensor t : in.values()) t.close();
            }
        }

        private static void check(ValueInfo v, Tensor t) {
            if (v.dtype() != null && v.dtype() != t.dtype())
                throw new PtqException("model input '" + v.name() + "' expects " + v.dtype() + " data, got " + t.dtype());
            if (v.shape() != null) {
                long[] s = t.shape();
                boolean ok = s.length == v.shape().size();
                for (int i = 0; ok && i < s.length; i++) if (v.shape().get(i).isFixed() && v.shape().get(i).value() != s[i]) ok = false;
                if (!ok) throw new PtqException("model input '" + v.name() + "' expects shape " + v.shape() + ", got " + java.util.Arrays.toString(s));
            }
        }

        private OnnxTensor toOrt(Tensor t) throws OrtException {
            ByteBuffer src = t.bytes();
            ByteBuffer direct = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
            direct.put(src).flip();
            return OnnxTensor.createTensor(env, direct, t.shape(), javaType(t.dtype()));
        }

        private static Tensor fromOrt(OnnxTensor ot) {
            TensorInfo info = ot.getInfo();
            DType dt = dtype(info.type);
            if (dt == DType.STRING) throw new PtqException("string outputs are not supported");
            // getByteBuffer() is already a copy owned by us (native order = little-endian on every ORT platform)
            ByteBuffer b = ot.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            return Tensor.of(dt, info.getShape(), b);
        }

        @Override
        public void close() {
            try {
                session.close();
            } catch (OrtException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** The engine's version string, for reports. */
    public static String version() {
        return Optional.ofNullable(OrtEnvironment.class.getPackage().getImplementationVersion()).orElse("onnxruntime");
    }
}
