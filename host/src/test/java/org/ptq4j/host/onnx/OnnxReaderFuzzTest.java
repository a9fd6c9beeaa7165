package org.ptq4j.host.onnx;

import com.google.protobuf.ByteString;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ptq4j.host.onnx.proto.Onnx.GraphProto;
import org.ptq4j.host.onnx.proto.Onnx.ModelProto;
import org.ptq4j.host.onnx.proto.Onnx.NodeProto;
import org.ptq4j.host.onnx.proto.Onnx.OperatorSetIdProto;
import org.ptq4j.host.onnx.proto.Onnx.StringStringEntryProto;
import org.ptq4j.host.onnx.proto.Onnx.TensorProto;
import org.ptq4j.host.testing.Fuzz;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.model.Model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The ONNX reader on mutated real models and on generated models whose initializers declare
 * arbitrary shapes, types, data and external-data entries (symlinks, FIFOs, climbing locations,
 * bad offsets): a {@code PtqException} with a message or a model, never anything else, at most
 * 64 MB allocated beyond the input, within 20 s.
 */
class OnnxReaderFuzzTest {
    static byte[] base;
    static Path folder;

    @BeforeContainer
    static void setUp() throws Exception {
        base = Files.readAllBytes(TestAssets.model("fmnist_resnet.onnx"));
        // a model folder with the things external data may point at
        folder = Files.createTempDirectory("onnx-fuzz");
        Files.write(folder.resolve("w.data"), new byte[8192]);
        Path outside = Files.createTempDirectory("onnx-fuzz-outside");
        Files.write(outside.resolve("secret"), new byte[8192]);
        Files.createSymbolicLink(folder.resolve("link.data"), outside.resolve("secret"));
        Files.createSymbolicLink(folder.resolve("linkdir"), outside);
        Files.createDirectories(folder.resolve("sub"));
        new ProcessBuilder("mkfifo", folder.resolve("fifo.data").toString()).start().waitFor();
    }

    @AfterContainer
    static void tearDown() throws IOException {
        Fuzz.report(OnnxReaderFuzzTest.class);
        try (var s = Files.walk(folder)) { for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p); }
    }

    static void read(String what, byte[] bytes) {
        Fuzz.check(what, bytes.length * 3L + (64 << 20), 20, () -> {
            Model m = OnnxIO.parse(bytes, "fuzz.onnx", folder);
            OnnxIO.toBytes(m);    // what was read can be written
        });
    }

    @Property
    void mutatedModels(@ForAll("edits") List<int[]> edits) {
        read("fmnist_resnet with edits " + edits.stream().map(java.util.Arrays::toString).toList(), Fuzz.mutate(base, edits));
    }

    @Property
    void generatedInitializers(@ForAll("tensors") List<TensorProto> tensors) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g")
                .addNode(NodeProto.newBuilder().setOpType("Identity").addInput("x").addOutput("y"));
        for (TensorProto t : tensors) g.addInitializer(t);
        byte[] bytes = ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13)).setGraph(g).build().toByteArray();
        read("initializers " + tensors, bytes);
    }

    @Provide
    Arbitrary<List<int[]>> edits() {
        return Arbitraries.integers().array(int[].class).ofSize(3).list().ofMinSize(1).ofMaxSize(6);
    }

    @Provide
    Arbitrary<List<TensorProto>> tensors() {
        Arbitrary<Long> dim = Arbitraries.oneOf(Arbitraries.longs().between(0, 8),
                Arbitraries.of(-1L, -16L, 1L << 28, 1L << 29, 1L << 31, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE));
        Arbitrary<List<Long>> dims = dim.list().ofMaxSize(4);
        Arbitrary<Integer> type = Arbitraries.integers().between(-1, 26);
        Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(72).injectNull(0.5);
        Arbitrary<Integer> typedValues = Arbitraries.integers().between(0, 10);
        Arbitrary<String> location = Arbitraries.of("w.data", "link.data", "linkdir/secret", "fifo.data", "sub", "missing.data", "../w.data",
                "/etc/passwd", "", "sub/../w.data", "\u0000", "w.data/..");
        Arbitrary<String> number = Arbitraries.of("0", "4", "4096", "-1", "-4096", "abc", "", " 8", "9223372036854775807", "99999999999999999999");
        Arbitrary<List<StringStringEntryProto>> external = Combinators.combine(location, number, number, Arbitraries.integers().between(0, 3))
                .as((l, o, n, keep) -> {
                    List<StringStringEntryProto> e = List.of(kv("location", l), kv("offset", o), kv("length", n));
                    return e.subList(0, keep == 0 ? 0 : Math.min(3, keep + (keep == 1 ? 0 : 1)));
                });
        return Combinators.combine(dims, type, raw, typedValues, external)
                .as((d, t, r, n, ext) -> {
                    TensorProto.Builder b = TensorProto.newBuilder().setName("t").setDataType(t).addAllDims(d);
                    if (!ext.isEmpty()) b.setDataLocation(TensorProto.DataLocation.EXTERNAL).addAllExternalData(ext);
                    else if (r != null) b.setRawData(ByteString.copyFrom(r));
                    else for (int i = 0; i < n; i++) { b.addFloatData(i); b.addInt32Data(i); b.addInt64Data(i); b.addDoubleData(i); b.addUint64Data(i); }
                    return b.build();
                }).list().ofMinSize(1).ofMaxSize(3);
    }

    static StringStringEntryProto kv(String k, String v) { return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build(); }
}
