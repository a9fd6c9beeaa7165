package org.ptq4j.host.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import org.ptq4j.host.onnx.proto.Onnx.AttributeProto;
import org.ptq4j.host.onnx.proto.Onnx.GraphProto;
import org.ptq4j.host.onnx.proto.Onnx.ModelProto;
import org.ptq4j.host.onnx.proto.Onnx.NodeProto;
import org.ptq4j.host.onnx.proto.Onnx.OperatorSetIdProto;
import org.ptq4j.host.onnx.proto.Onnx.StringStringEntryProto;
import org.ptq4j.host.onnx.proto.Onnx.TensorProto;
import org.ptq4j.host.onnx.proto.Onnx.TensorShapeProto;
import org.ptq4j.host.onnx.proto.Onnx.TypeProto;
import org.ptq4j.host.onnx.proto.Onnx.ValueInfoProto;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads ONNX files into the spi {@link Model} and writes them back.
 * <p>
 * Lossless: what the spi does not model (functions, training info, doc strings, sub-graph and
 * sparse attributes, string tensors, fields of newer ONNX versions) is kept from the original
 * protobuf and written back; an unchanged model is written byte-identically. Weights are not
 * copied on read (views of the file bytes, memory-mapped external data). Writing is atomic
 * (temporary files, then a move), and models whose weights exceed {@link #EXTERNAL_THRESHOLD}
 * bytes are written with ONNX external data ({@code <file>.data} beside the model).
 */
public final class OnnxIO {
    /** Above this many bytes of initializers, {@link #write} stores weights as external data (protobuf's limit is 2 GB). */
    public static final long EXTERNAL_THRESHOLD = 1_800_000_000L;

    private OnnxIO() {}

    /** What the reader keeps to write unmodeled parts back unchanged. */
    private record Origin(ModelProto proto, IdentityHashMap<Tensor, TensorProto> tensors, Map<String, ValueInfoProto> valueInfos) {}

    // ------------------------------------------------------------------ read

    public static Model read(Path file) {
        byte[] bytes;
        try {
            // a FIFO or device would block or never end: model files are regular files
            if (Files.exists(file) && !Files.isRegularFile(file)) throw new PtqException(file + ": not a regular file (expected an .onnx model file)");
            if (Files.exists(file) && Files.size(file) > Integer.MAX_VALUE - 8)
                throw new PtqException(file + ": " + Files.size(file) + " bytes; an .onnx file is at most 2 GB (larger models keep their weights in external data)");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new PtqException(file + ": model file not found");
        } catch (IOException | OutOfMemoryError e) {
            throw new PtqException(file + ": cannot read model: " + e.getMessage(), e);
        }
        Model m = parse(bytes, file.toString(), file.toAbsolutePath().getParent());
        m.source(file.toAbsolutePath());
        return m;
    }

    /** Parses model bytes; {@code what} names the source in errors, {@code baseDir} resolves external data. */
    public static Model parse(byte[] bytes, String what, Path baseDir) {
        ModelProto proto;
        try {
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            in.setRecursionLimit(1000);
            proto = ModelProto.parseFrom(in);
        } catch (IOException e) {
            throw new PtqException(what + ": not a valid ONNX model (" + e.getMessage() + "); is the file truncated or not an .onnx file?", e);
        }
        if (!proto.hasGraph() || proto.getIrVersion() <= 0)
            throw new PtqException(what + ": not a valid ONNX model (no graph or no ir_version)");
        if (proto.getGraph().getNodeCount() == 0)
            throw new PtqException(what + ": the ONNX model's graph has no nodes");
        try {
            return fromProto(proto, baseDir);
        } catch (IllegalArgumentException e) {
            throw new PtqException(what + ": " + e.getMessage(), e);
        }
    }

    private static Model fromProto(ModelProto proto, Path baseDir) {
        GraphProto gp = proto.getGraph();
        IdentityHashMap<Tensor, TensorProto> tensors = new IdentityHashMap<>();
        Map<String, ValueInfoProto> vis = new HashMap<>();
        Graph g = new Graph(gp.getName());
        for (ValueInfoProto v : gp.getInputList()) { g.inputs().add(valueInfo(v)); vis.put("i:" + v.getName(), v); }
        for (ValueInfoProto v : gp.getOutputList()) { g.outputs().add(valueInfo(v)); vis.put("o:" + v.getName(), v); }
        for (ValueInfoProto v : gp.getValueInfoList()) { g.valueInfos().put(v.getName(), valueInfo(v)); vis.put("v:" + v.getName(), v); }
        for (TensorProto t : gp.getInitializerList()) {
            Tensor tensor = tensor(t, baseDir);
            tensors.put(tensor, t);
            g.initializers().put(t.getName(), tensor);
        }
        for (NodeProto np : gp.getNodeList()) g.nodes().add(node(np, tensors, baseDir));
        LinkedHashMap<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto o : proto.getOpsetImportList()) opsets.put(o.getDomain(), o.getVersion());
        Model m = new Model(g, opsets, proto.getIrVersion());
        m.producerName(proto.getProducerName());
        for (StringStringEntryProto e : proto.getMetadataPropsList()) m.metadata().put(e.getKey(), e.getValue());
        m.origin(new Origin(proto, tensors, vis));
        return m;
    }

    private static Node node(NodeProto np, IdentityHashMap<Tensor, TensorProto> tensors, Path baseDir) {
        Node n = new Node(np.getName(), np.getOpType(), np.getDomain(), np.getInputList(), np.getOutputList());
        for (AttributeProto a : np.getAttributeList()) n.set(attribute(a, tensors, baseDir));
        n.origin(np);
        return n;
    }

    private static Attribute attribute(AttributeProto a, IdentityHashMap<Tensor, TensorProto> tensors, Path baseDir) {
        switch (a.getType()) {
            case INT: return Attribute.of(a.getName(), a.getI());
            case FLOAT: return Attribute.of(a.getName(), a.getF());
            case STRING: return Attribute.of(a.getName(), a.getS().toStringUtf8());
            case INTS: return Attribute.ints(a.getName(), a.getIntsList());
            case FLOATS: return Attribute.floats(a.getName(), a.getFloatsList());
            case STRINGS: {
                List<String> s = new ArrayList<>();
                for (ByteString b : a.getStringsList()) s.add(b.toStringUtf8());
                return Attribute.strings(a.getName(), s);
            }
            case TENSOR: {
                if (a.getT().getDataType() == TensorProto.DataType.STRING_VALUE) break;
                Tensor t = tensor(a.getT(), baseDir);
                tensors.put(t, a.getT());
                return Attribute.of(a.getName(), t);
            }
            default: break;
        }
        return new Attribute(a.getName(), Attribute.Kind.OPAQUE, a);
    }

    private static ValueInfo valueInfo(ValueInfoProto v) {
        if (!v.hasType() || !v.getType().hasTensorType()) return ValueInfo.nameOnly(v.getName());
        TypeProto.Tensor tt = v.getType().getTensorType();
        DType dt = null;
        try { if (tt.getElemType() != 0) dt = DType.fromOnnx(tt.getElemType()); } catch (IllegalArgumentException ignored) { }
        List<Dim> shape = null;
        if (tt.hasShape()) {
            shape = new ArrayList<>();
            for (TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
                shape.add(d.hasDimValue() ? Dim.of(d.getDimValue()) : d.hasDimParam() ? Dim.named(d.getDimParam()) : Dim.unknown());
            }
        }
        return new ValueInfo(v.getName(), dt, shape);
    }

    /** A tensor over the proto's data (no copy for raw_data; memory-mapped for external data). */
    static Tensor tensor(TensorProto t, Path baseDir) {
        long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        int code = t.getDataType();
        if (code == TensorProto.DataType.STRING_VALUE) {
            return Tensor.of(DType.STRING, shape, ByteBuffer.allocate(0));
        }
        DType dt;
        try { dt = DType.fromOnnx(code); } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("initializer '" + t.getName() + "' has unsupported element type " + code);
        }
        // the declared size is checked against the data actually present before anything is allocated
        long bytes = declaredBytes(t.getName(), shape, dt);
        int n = (int) (bytes / dt.byteSize());
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            return Tensor.of(dt, shape, external(t, baseDir, bytes));
        }
        if (t.hasRawData()) {
            ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer();
            if (raw.remaining() != bytes)
                throw new IllegalArgumentException("initializer '" + t.getName() + "' has " + raw.remaining() + " bytes of raw_data, its shape " + Arrays.toString(shape) + " of " + dt + " needs " + bytes);
            return Tensor.of(dt, shape, raw);
        }
        int present = typedValues(t, dt);
        if (present != n)
            throw new IllegalArgumentException("initializer '" + t.getName() + "' declares shape " + Arrays.toString(shape) + " (" + n + " elements of " + dt
                    + ") but holds " + present + " values");
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (dt) {
            case FLOAT: for (int i = 0; i < n; i++) b.putFloat(t.getFloatData(i)); break;
            case DOUBLE: for (int i = 0; i < n; i++) b.putDouble(t.getDoubleData(i)); break;
            case INT64: for (int i = 0; i < n; i++) b.putLong(t.getInt64Data(i)); break;
            case UINT32: case UINT64: for (int i = 0; i < n; i++) { long v = t.getUint64Data(i); if (dt == DType.UINT32) b.putInt((int) v); else b.putLong(v); } break;
            case INT32: for (int i = 0; i < n; i++) b.putInt(t.getInt32Data(i)); break;
            case INT16: case UINT16: case FLOAT16: case BFLOAT16: for (int i = 0; i < n; i++) b.putShort((short) t.getInt32Data(i)); break;
            case INT8: case UINT8: case BOOL: for (int i = 0; i < n; i++) b.put((byte) t.getInt32Data(i)); break;
            default: throw new IllegalArgumentException("initializer '" + t.getName() + "': cannot read " + dt);
        }
        b.flip();
        return Tensor.of(dt, shape, b);
    }

    /** Bytes a tensor's shape declares; negative dimensions and sizes above 2 GB (per tensor) are errors naming it. */
    static long declaredBytes(String name, long[] shape, DType dt) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("initializer '" + name + "' has a negative dimension in its shape " + Arrays.toString(shape));
            n = d == 0 || n == 0 ? 0 : n > Long.MAX_VALUE / d ? Long.MAX_VALUE : n * d;
        }
        long bytes = n > Long.MAX_VALUE / dt.byteSize() ? Long.MAX_VALUE : n * dt.byteSize();
        if (bytes > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("initializer '" + name + "' declares shape " + Arrays.toString(shape) + " of " + dt
                    + (bytes == Long.MAX_VALUE ? " (more than 2^63 bytes)" : " (" + bytes + " bytes)") + "; a single tensor is at most 2 GB");
        return bytes;
    }

    /** How many values of {@code dt} the typed data field of {@code t} holds. */
    private static int typedValues(TensorProto t, DType dt) {
        switch (dt) {
            case FLOAT: return t.getFloatDataCount();
            case DOUBLE: return t.getDoubleDataCount();
            case INT64: return t.getInt64DataCount();
            case UINT32: case UINT64: return t.getUint64DataCount();
            case INT32: case INT16: case UINT16: case FLOAT16: case BFLOAT16: case INT8: case UINT8: case BOOL: return t.getInt32DataCount();
            default: throw new IllegalArgumentException("initializer '" + t.getName() + "': cannot read " + dt);
        }
    }

    private static long number(TensorProto t, String key, String value) {
        long v;
        try { v = Long.parseLong(value.trim()); } catch (NumberFormatException e) { v = -1; }
        if (v < 0) throw new IllegalArgumentException("initializer '" + t.getName() + "': external data " + key + " '" + value + "' is not a number >= 0");
        return v;
    }

    private static ByteBuffer external(TensorProto t, Path baseDir, long expected) {
        String location = null;
        long offset = 0, length = -1;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location": location = e.getValue(); break;
                case "offset": offset = number(t, "offset", e.getValue()); break;
                case "length": length = number(t, "length", e.getValue()); break;
                default: break;
            }
        }
        if (location == null || location.isEmpty()) throw new IllegalArgumentException("initializer '" + t.getName() + "' is external but names no location");
        if (baseDir == null) throw new IllegalArgumentException("initializer '" + t.getName() + "' is external data, but the model was not read from a file");
        if (length < 0) length = expected;
        if (length != expected) throw new IllegalArgumentException("initializer '" + t.getName() + "': external data length " + length + " but its shape needs " + expected + " bytes");
        Path f = externalFile(t.getName(), location, baseDir);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            if (offset > ch.size() - length) throw new IllegalArgumentException("initializer '" + t.getName() + "': external data " + f + " is too short (needs "
                    + (offset > Long.MAX_VALUE - length ? "offset " + offset + " + " + length : Long.toString(offset + length)) + " bytes, has " + ch.size() + ")");
            return ch.map(FileChannel.MapMode.READ_ONLY, offset, length).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new IllegalArgumentException("initializer '" + t.getName() + "': cannot read external data " + f + ": " + e.getMessage());
        }
    }

    /**
     * The real path of an external-data file: a regular file inside the model's real folder. A
     * location that is absolute, climbs out with {@code ..}, or leads out through a symbolic link,
     * and anything but a regular file (a FIFO would block forever, a device never end) is refused.
     */
    static Path externalFile(String tensor, String location, Path baseDir) {
        String what = "initializer '" + tensor + "': external data location '" + location + "'";
        Path f;
        try {
            f = baseDir.resolve(location).normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw new IllegalArgumentException(what + " is not a valid file name");
        }
        if (!f.startsWith(baseDir.normalize())) throw new IllegalArgumentException(what + " is outside the model's folder");
        Path real;
        try {
            Path base = baseDir.toRealPath();
            real = f.toRealPath();
            if (!real.startsWith(base))
                throw new IllegalArgumentException(what + " leads (through a symbolic link) to " + real + ", outside the model's folder " + base);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + ": file not found: " + f);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + ": cannot read " + f + ": " + e.getMessage());
        }
        if (!Files.isRegularFile(real)) throw new IllegalArgumentException(what + ": " + f + " is not a regular file");
        return real;
    }

    /** The external-data files a model read by {@link #read} refers to (real paths; empty when all weights are inline). */
    public static List<Path> externalFiles(Model model) {
        if (!(model.origin() instanceof Origin o) || model.source() == null) return List.of();
        java.util.LinkedHashSet<Path> files = new java.util.LinkedHashSet<>();
        for (TensorProto t : o.tensors.values()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) continue;
            for (StringStringEntryProto e : t.getExternalDataList())
                if (e.getKey().equals("location")) files.add(externalFile(t.getName(), e.getValue(), model.source().getParent()));
        }
        return List.copyOf(files);
    }

    // ------------------------------------------------------------------ write

    /** Serializes the model (all weights inline). Throws when it would exceed protobuf's 2 GB limit. */
    public static byte[] toBytes(Model model) {
        return toProto(model, null).toByteArray();
    }

    /** Total bytes of the model's initializers. */
    public static long weightBytes(Model model) {
        long s = 0;
        for (Tensor t : model.graph().initializers().values()) s += t.bytes().remaining();
        return s;
    }

    /**
     * Writes the model atomically: to temporary files in the target folder, then moved into place.
     * Large models get their weights in {@code <file name>.data} (ONNX external data).
     */
    public static void write(Model model, Path file) {
        write(model, file, EXTERNAL_THRESHOLD);
    }

    /** As {@link #write(Model, Path)}, with weights stored externally when they exceed {@code externalThreshold} bytes. */
    public static void write(Model model, Path file, long externalThreshold) {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException | UnsupportedOperationException e) {
            throw new PtqException(file + ": cannot create the output folder: " + e.getMessage(), e);
        }
        if (!Files.isWritable(dir)) throw new PtqException(file + ": the output folder " + dir + " is not writable");
        String dataName = target.getFileName() + ".data";
        // the move would replace a device, FIFO or folder with a regular file
        for (Path p : List.of(target, dir.resolve(dataName)))
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p))
                throw new PtqException(p + ": exists and is not a regular file; refusing to replace it");
        removeStaleTemporaries(target);
        boolean external = weightBytes(model) > externalThreshold;
        Path tmpModel = null, tmpData = null, freshData = null;
        boolean done = false;
        try {
            tmpModel = createTemporary(target, target.getFileName().toString());
            ExternalWriter ext = null;
            if (external) {
                tmpData = createTemporary(target, dataName);
                ext = new ExternalWriter(tmpData, dataName);
            }
            ModelProto proto;
            try (ExternalWriter e = ext) {
                proto = toProto(model, e);
            }
            try (OutputStream out = Files.newOutputStream(tmpModel)) {
                proto.writeTo(out);
            }
            // temporary files are created owner-only; the result gets ordinary file permissions
            readableByAll(tmpModel);
            if (tmpData != null) {
                readableByAll(tmpData);
                Path data = dir.resolve(dataName);
                // a new .data file is kept only with its model: until the model is in place it counts as temporary
                if (!Files.exists(data, java.nio.file.LinkOption.NOFOLLOW_LINKS)) LIVE_TEMPORARIES.add(freshData = data);
                move(tmpData, data);
            }
            move(tmpModel, target);
            done = true;
        } catch (IOException e) {
            throw new PtqException(file + ": cannot write the model: " + e.getMessage(), e);
        } finally {
            for (Path p : new Path[]{tmpModel, tmpData, done ? null : freshData}) {
                if (p == null) continue;
                try { Files.deleteIfExists(p); } catch (IOException ignored) { }
            }
            for (Path p : new Path[]{tmpModel, tmpData, freshData}) if (p != null) LIVE_TEMPORARIES.remove(p);
        }
    }

    // ------------------------------------------------------------------ temporary files

    /**
     * Temporary files of this process, removed by a shutdown hook on SIGTERM / Ctrl-C. A process
     * killed with SIGKILL cannot clean up: its files are named {@code .<name>.ptq-<pid>-<random>.tmp},
     * and the next write to the same output removes those of processes no longer running.
     */
    private static final java.util.Set<Path> LIVE_TEMPORARIES = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicBoolean HOOK = new java.util.concurrent.atomic.AtomicBoolean();
    private static final java.util.regex.Pattern TEMPORARY = java.util.regex.Pattern.compile("\\.(.+)\\.ptq-(\\d+)-\\d+\\.tmp");

    /** A new temporary file beside {@code target} for {@code name} (the target's or its data file's name), removed at exit. */
    public static Path createTemporary(Path target, String name) throws IOException {
        if (HOOK.compareAndSet(false, true)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Path p : LIVE_TEMPORARIES) try { Files.deleteIfExists(p); } catch (IOException ignored) { }
            }, "ptq-remove-temporary-files"));
        }
        Path p = Files.createTempFile(target.toAbsolutePath().getParent(), "." + name + ".ptq-" + ProcessHandle.current().pid() + "-", ".tmp");
        LIVE_TEMPORARIES.add(p);
        return p;
    }

    /** Deletes a file made by {@link #createTemporary}. */
    public static void deleteTemporary(Path p) throws IOException {
        Files.deleteIfExists(p);
        LIVE_TEMPORARIES.remove(p);
    }

    /** Removes temporary files for {@code target} (and its .data) left by ptq processes that are no longer running. */
    public static void removeStaleTemporaries(Path target) {
        Path dir = target.toAbsolutePath().getParent();
        String name = target.getFileName().toString();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                var m = TEMPORARY.matcher(p.getFileName().toString());
                if (!m.matches() || !(m.group(1).equals(name) || m.group(1).equals(name + ".data"))) continue;
                long pid;
                try { pid = Long.parseLong(m.group(2)); } catch (NumberFormatException e) { continue; }
                if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
                if (LIVE_TEMPORARIES.contains(p)) continue;
                if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort: a folder that cannot be listed fails the write itself with a clear message
        }
    }

    private static void readableByAll(Path p) throws IOException {
        if (p.getFileSystem().supportedFileAttributeViews().contains("posix"))
            Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Appends tensors to an external data file. */
    private static final class ExternalWriter implements AutoCloseable {
        final FileChannel ch;
        final String location;
        long offset;

        ExternalWriter(Path f, String location) throws IOException {
            this.ch = FileChannel.open(f, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            this.location = location;
        }

        TensorProto.Builder put(TensorProto.Builder b, ByteBuffer data) {
            try {
                long pad = (4096 - offset % 4096) % 4096;
                offset += pad;
                long len = data.remaining();
                ch.position(offset);
                while (data.hasRemaining()) ch.write(data);
                b.setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(kv("location", location))
                        .addExternalData(kv("offset", Long.toString(offset)))
                        .addExternalData(kv("length", Long.toString(len)));
                offset += len;
                return b;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override public void close() throws IOException { ch.close(); }
    }

    private static StringStringEntryProto kv(String k, String v) { return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build(); }

    static ModelProto toProto(Model model, ExternalWriter ext) {
        Origin origin = model.origin() instanceof Origin o ? o : null;
        ModelProto.Builder mb = origin != null ? origin.proto.toBuilder() : ModelProto.newBuilder().setProducerName("ptq4j");
        mb.setIrVersion(model.irVersion());
        if (model.producerName() != null && !model.producerName().equals(mb.getProducerName())) mb.setProducerName(model.producerName());
        List<OperatorSetIdProto> opsets = new ArrayList<>();
        for (Map.Entry<String, Long> e : model.opsets().entrySet()) {
            OperatorSetIdProto.Builder ob = OperatorSetIdProto.newBuilder().setVersion(e.getValue());
            OperatorSetIdProto orig = origin == null ? null : origin.proto.getOpsetImportList().stream().filter(o -> o.getDomain().equals(e.getKey())).findFirst().orElse(null);
            if (orig != null && orig.hasDomain() || !e.getKey().isEmpty()) ob.setDomain(e.getKey());
            opsets.add(ob.build());
        }
        if (origin == null || !opsets.equals(origin.proto.getOpsetImportList())) mb.clearOpsetImport().addAllOpsetImport(opsets);
        List<StringStringEntryProto> meta = new ArrayList<>();
        for (Map.Entry<String, String> e : model.metadata().entrySet()) meta.add(kv(e.getKey(), e.getValue()));
        if (origin == null || !meta.equals(origin.proto.getMetadataPropsList())) mb.clearMetadataProps().addAllMetadataProps(meta);
        mb.setGraph(graph(model.graph(), origin, ext));
        return mb.build();
    }

    private static GraphProto graph(Graph g, Origin origin, ExternalWriter ext) {
        GraphProto.Builder gb = origin != null ? origin.proto.getGraph().toBuilder() : GraphProto.newBuilder();
        if (g.name() != null && !g.name().equals(gb.getName())) gb.setName(g.name());
        gb.clearInput().clearOutput().clearValueInfo().clearNode().clearInitializer();
        for (ValueInfo v : g.inputs()) gb.addInput(valueInfo(v, origin, "i:"));
        for (ValueInfo v : g.outputs()) gb.addOutput(valueInfo(v, origin, "o:"));
        for (ValueInfo v : g.valueInfos().values()) gb.addValueInfo(valueInfo(v, origin, "v:"));
        for (Map.Entry<String, Tensor> e : g.initializers().entrySet()) gb.addInitializer(tensorProto(e.getKey(), e.getValue(), origin, ext));
        for (Node n : g.nodes()) gb.addNode(node(n, origin));
        return gb.build();
    }

    private static ValueInfoProto valueInfo(ValueInfo v, Origin origin, String kind) {
        if (origin != null) {
            ValueInfoProto orig = origin.valueInfos.get(kind + v.name());
            if (orig == null) {
                // the same tensor declared elsewhere (e.g. an intermediate that became an output)
                for (String k : new String[]{"i:", "o:", "v:"}) { orig = origin.valueInfos.get(k + v.name()); if (orig != null) break; }
            }
            if (orig != null && valueInfo(orig).equals(v)) return orig;
        }
        ValueInfoProto.Builder b = ValueInfoProto.newBuilder().setName(v.name());
        if (v.dtype() != null || v.shape() != null) {
            TypeProto.Tensor.Builder tt = TypeProto.Tensor.newBuilder();
            if (v.dtype() != null) tt.setElemType(v.dtype().onnxCode());
            if (v.shape() != null) {
                TensorShapeProto.Builder sb = TensorShapeProto.newBuilder();
                for (Dim d : v.shape()) {
                    TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
                    if (d.isFixed()) db.setDimValue(d.value()); else if (d.param() != null) db.setDimParam(d.param());
                    sb.addDim(db);
                }
                tt.setShape(sb);
            }
            b.setType(TypeProto.newBuilder().setTensorType(tt));
        }
        return b.build();
    }

    private static TensorProto tensorProto(String name, Tensor t, Origin origin, ExternalWriter ext) {
        TensorProto orig = origin == null ? null : origin.tensors.get(t);
        if (orig != null && orig.getName().equals(name)) {
            boolean isExternal = orig.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
            if (!isExternal && ext == null) return orig;
            if (t.dtype() == DType.STRING) return orig;
            if (!isExternal && t.bytes().remaining() < 1024) return orig;
        }
        if (t.dtype() == DType.STRING) {
            if (orig != null) return orig.toBuilder().setName(name).build();
            throw new IllegalStateException("string initializer '" + name + "' has no original data");
        }
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(t.dtype().onnxCode());
        for (long d : t.shape()) b.addDims(d);
        ByteBuffer data = t.bytes();
        if (ext != null && data.remaining() >= 1024) return ext.put(b, data).build();
        return b.setRawData(ByteString.copyFrom(data)).build();
    }

    private static NodeProto node(Node n, Origin origin) {
        NodeProto orig = n.origin() instanceof NodeProto p ? p : null;
        NodeProto.Builder b = orig != null ? orig.toBuilder() : NodeProto.newBuilder();
        if (orig == null || !orig.getName().equals(n.name())) { if (!n.name().isEmpty() || orig != null) b.setName(n.name()); }
        if (orig == null || !orig.getOpType().equals(n.opType())) b.setOpType(n.opType());
        if (orig == null ? !n.domain().isEmpty() : !orig.getDomain().equals(n.domain())) b.setDomain(n.domain());
        if (orig == null || !orig.getInputList().equals(n.inputs())) b.clearInput().addAllInput(n.inputs());
        if (orig == null || !orig.getOutputList().equals(n.outputs())) b.clearOutput().addAllOutput(n.outputs());
        List<AttributeProto> attrs = new ArrayList<>();
        for (Attribute a : n.attributes().values()) attrs.add(attributeProto(a, orig, origin));
        if (orig == null || !attrs.equals(orig.getAttributeList())) b.clearAttribute().addAllAttribute(attrs);
        return b.build();
    }

    private static AttributeProto attributeProto(Attribute a, NodeProto orig, Origin origin) {
        if (a.kind() == Attribute.Kind.OPAQUE) return (AttributeProto) a.value();
        if (orig != null) {
            for (AttributeProto o : orig.getAttributeList()) {
                if (o.getName().equals(a.name())) {
                    if (a.kind() == Attribute.Kind.TENSOR) {
                        if (origin != null && origin.tensors.get(a.asTensor()) == o.getT()) return o;
                    } else if (attribute(o, new IdentityHashMap<>(), null).equals(a)) {
                        return o;
                    }
                }
            }
        }
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(a.name());
        switch (a.kind()) {
            case INT: return b.setType(AttributeProto.AttributeType.INT).setI(a.asLong()).build();
            case FLOAT: return b.setType(AttributeProto.AttributeType.FLOAT).setF(a.asFloat()).build();
            case STRING: return b.setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(a.asString())).build();
            case INTS: return b.setType(AttributeProto.AttributeType.INTS).addAllInts(a.asLongs()).build();
            case FLOATS: return b.setType(AttributeProto.AttributeType.FLOATS).addAllFloats(a.asFloats()).build();
            case STRINGS: {
                b.setType(AttributeProto.AttributeType.STRINGS);
                @SuppressWarnings("unchecked") List<String> s = (List<String>) a.value();
                for (String x : s) b.addStrings(ByteString.copyFromUtf8(x));
                return b.build();
            }
            case TENSOR: return b.setType(AttributeProto.AttributeType.TENSOR).setT(tensorProto("", a.asTensor(), origin, null)).build();
            default: throw new IllegalStateException("attribute kind " + a.kind());
        }
    }
}
