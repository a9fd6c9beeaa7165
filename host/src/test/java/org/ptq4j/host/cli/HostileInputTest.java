package org.ptq4j.host.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.onnx.proto.Onnx.ModelProto;
import org.ptq4j.host.onnx.proto.Onnx.StringStringEntryProto;
import org.ptq4j.host.onnx.proto.Onnx.TensorProto;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Bad input as a hostile user would give it, through the CLI in-process: each case exits with 2, its
 * message names the culprit, and no file in the working folder is changed, and none is left behind.
 */
class HostileInputTest {
    @TempDir Path dir;
    String stdout, stderr;

    int ptq(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8),
                k -> null, dirs -> new PluginLoader.Result(MainTest.registry().add(new DefaultQuantizationStandIn(), "test"), List.of(), List.of(), null));
        stdout = o.toString(StandardCharsets.UTF_8);
        stderr = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    /** The simplified mode's algorithm (the real one is a plugin): returns the model unchanged. */
    static final class DefaultQuantizationStandIn implements org.ptq4j.spi.Algorithm {
        @Override public String name() { return "DefaultQuantization"; }
        @Override public String description() { return "test stand-in"; }
        @Override public List<org.ptq4j.spi.param.ParamSpec> parameters() { return List.of(); }
        @Override public Model apply(Model m, org.ptq4j.spi.param.Params p, org.ptq4j.spi.stats.Statistics s, org.ptq4j.spi.PipelineContext c) { return m; }
    }

    @BeforeEach
    void assets() throws IOException {
        TestAssets.copyFmnistCnn(dir);
    }

    String pipeline(String output) {
        return """
                model: model.onnx
                output: %s
                datasets:
                  calibration: {type: test_npy, path: calib.npy, limit: 30}
                  validation: {type: test_npy, path: test.npy, labels: labels.npy, limit: 100}
                metric: {type: test_top1}
                pipeline:
                  - algorithm: RangeProbe
                  - algorithm: InsertIdentity
                """.formatted(output);
    }

    /** Every file and link under the folder with its content hash (links: their target). */
    Map<String, String> snapshot() throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                String key = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) m.put(key, "-> " + Files.readSymbolicLink(p));
                else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    m.put(key, Files.size(p) > 100_000_000 ? Files.size(p) + " bytes, " + Files.getLastModifiedTime(p) : sha(p));
                else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) m.put(key, "dir");
                else m.put(key, "special");
            }
        }
        return m;
    }

    static String sha(Path p) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs the command, expecting exit 2 with every {@code expected} text in the message, and the folder exactly as before. */
    void refused(List<String> args, String... expected) throws IOException {
        Map<String, String> before = snapshot();
        int code = ptq(args.toArray(String[]::new));
        assertEquals(2, code, "exit code of " + args + "; stderr: " + stderr);
        assertTrue(stderr.startsWith("error: ") || stderr.startsWith("Invalid value for option"), stderr);
        for (String x : expected) assertTrue(stderr.contains(x), "message should contain '" + x + "': " + stderr);
        assertFalse(stderr.contains("Exception"), stderr);
        assertEquals(before, snapshot(), "files changed or left behind by " + args);
    }

    void refusedPipeline(String yaml, String... expected) throws IOException {
        Path y = dir.resolve("p.yaml");
        Files.writeString(y, yaml);
        refused(List.of("quantize", "-c", y.toString()), expected);
    }

    // ------------------------------------------------------------------ data loss

    @Test
    void outputThroughASymlinkedFolderIsTheModel() throws IOException {
        Files.createSymbolicLink(dir.resolve("link"), dir);
        refusedPipeline(pipeline("link/model.onnx"), "output (line 2): ", dir.resolve("link/model.onnx").toString(),
                "is (through a link) the same file as the model " + dir.resolve("model.onnx"));
    }

    @Test
    void outputEqualToEachKindOfInput() throws IOException {
        // calibration data, labels, the pipeline file itself, a hard link to the model: by path and by file identity
        refusedPipeline(pipeline("calib.npy"), "output (line 2): must differ from the datasets.calibration.path " + dir.resolve("calib.npy"));
        // reported with the other problems of the file, all at once
        Files.writeString(dir.resolve("p.yaml"), pipeline("calib.npy").replace("limit: 30", "limt: 30"));
        refused(List.of("validate", "-c", dir.resolve("p.yaml").toString()), "2 errors", "datasets.calibration.limt (line 4): unknown key 'limt'",
                "output (line 2): must differ from the datasets.calibration.path " + dir.resolve("calib.npy"));
        refusedPipeline(pipeline("./sub/../labels.npy"), "must differ from the datasets.validation.labels " + dir.resolve("labels.npy"));
        refusedPipeline(pipeline("p.yaml"), "must differ from the pipeline file " + dir.resolve("p.yaml"));
        Files.createLink(dir.resolve("hard.onnx"), dir.resolve("model.onnx"));
        refusedPipeline(pipeline("hard.onnx"), "is (a hard link) the same file as the model " + dir.resolve("model.onnx"));
        // a folder the run reads from: nothing is written into it
        Files.createDirectories(dir.resolve("data"));
        Files.move(dir.resolve("test.npy"), dir.resolve("data/test.npy"));
        refusedPipeline(pipeline("data/out.onnx").replace("path: test.npy", "path: data/test.npy").replace("labels: labels.npy", "labels: data"),
                "lies inside the datasets.validation.labels " + dir.resolve("data"));
    }

    @Test
    void simplifiedModeChecksTheSame() throws IOException {
        String m = dir.resolve("model.onnx").toString(), d = dir.resolve("calib.npy").toString();
        refused(List.of("quantize", "--model", m, "--data", d, "--output", d), "--output: must differ from the datasets.calibration.path " + d);
        Files.createSymbolicLink(dir.resolve("link"), dir);
        refused(List.of("quantize", "--model", m, "--data", d, "--output", dir.resolve("link/model.onnx").toString()),
                "--output: " + dir.resolve("link/model.onnx") + " is (through a link) the same file as the model " + m);
        assertEquals(0, ptq("quantize", "--model", m, "--data", d, "--output", dir.resolve("q.onnx").toString()), stderr);
        assertTrue(Files.isRegularFile(dir.resolve("q.onnx")));
    }

    @Test
    void outputEqualToTheModelsExternalData() throws IOException {
        Path ext = dir.resolve("ext");
        OnnxIO.write(OnnxIO.read(dir.resolve("model.onnx")), ext.resolve("m.onnx"), 0);
        assertTrue(Files.exists(ext.resolve("m.onnx.data")));
        String yaml = pipeline("ext/m.onnx.data").replace("model: model.onnx", "model: ext/m.onnx");
        refusedPipeline(yaml, "output: must differ from the model's external data " + ext.resolve("m.onnx.data"));
        Files.writeString(dir.resolve("p.yaml"), yaml);
        refused(List.of("validate", "-c", dir.resolve("p.yaml").toString()), "must differ from the model's external data " + ext.resolve("m.onnx.data"));
        // an output whose own .data file (written for large models) would replace an input
        Files.copy(dir.resolve("calib.npy"), dir.resolve("q.onnx.data"));
        refusedPipeline(pipeline("q.onnx").replace("path: calib.npy", "path: q.onnx.data"),
                dir.resolve("q.onnx") + " its external-data file " + dir.resolve("q.onnx.data") + " would replace the datasets.calibration.path");
    }

    @Test
    void outputThatIsNotARegularFile() throws Exception {
        Path fifo = dir.resolve("fifo.onnx");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        refusedPipeline(pipeline("fifo.onnx"), "output (line 2): " + fifo + " exists and is not a regular file");
        assertFalse(Files.isRegularFile(fifo));
        // a character device (as /dev/null): made in the test folder, which needs root (CI runs as root)
        Path device = dir.resolve("null.onnx");
        if (new ProcessBuilder("mknod", device.toString(), "c", "1", "3").start().waitFor() == 0) {
            refusedPipeline(pipeline("null.onnx"), "output (line 2): " + device + " exists and is not a regular file");
            assertFalse(Files.isRegularFile(device), "the device node was replaced");
            Files.delete(device);
        }
        // OnnxIO itself refuses too (callers other than the pipeline)
        PtqException e = assertThrows(PtqException.class, () -> OnnxIO.write(OnnxIO.read(dir.resolve("model.onnx")), fifo));
        assertTrue(e.getMessage().contains(fifo + ": exists and is not a regular file"), e.getMessage());
        // inputs that are FIFOs would block the run forever: refused at validation, with key and line
        Path fifoData = dir.resolve("fifo.npy");
        assertEquals(0, new ProcessBuilder("mkfifo", fifoData.toString()).start().waitFor());
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () -> refusedPipeline(pipeline("out.onnx").replace("path: calib.npy", "path: fifo.npy"),
                "datasets.calibration.path (line 4): " + fifoData + " is not a regular file or folder"));
        refusedPipeline(pipeline("newdir/"), "output (line 2): 'newdir/' names a folder (it ends with '/')");
        refused(List.of("quantize", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("calib.npy").toString(),
                "--output", dir.resolve("newdir") + "/"), "--output: '" + dir.resolve("newdir") + "/' names a folder");
        assertFalse(Files.exists(dir.resolve("newdir")));
    }

    @Test
    void aPreviousGoodOutputSurvivesAFailedRun() throws IOException {
        Path y = dir.resolve("p.yaml");
        Files.writeString(y, pipeline("out/result.onnx"));
        assertEquals(0, ptq("quantize", "-c", y.toString()), stderr);
        Map<String, String> before = snapshot();
        Files.writeString(y, pipeline("out/result.onnx").replace("InsertIdentity", "Buggy"));
        before.put("p.yaml", sha(y));
        assertEquals(1, ptq("quantize", "-c", y.toString()));
        assertTrue(stderr.contains("internal error: java.lang.IllegalStateException: bug"), stderr);
        assertEquals(before, snapshot());
    }

    // ------------------------------------------------------------------ memory bombs, ranges

    @Test
    void everyNumericFlagHasTheRangeOfItsYamlKey() throws IOException {
        String m = dir.resolve("model.onnx").toString(), d = dir.resolve("calib.npy").toString(), l = dir.resolve("labels.npy").toString();
        List<String> q = List.of("quantize", "--model", m, "--data", d, "--output", dir.resolve("q.onnx").toString());
        List<String> e = List.of("evaluate", "--model", m, "--data", d, "--labels", l, "--metric", "test_top1");
        List<String> b = List.of("benchmark", "--model", m);
        record Case(List<String> base, String flag, String value, String range) {}
        List<Case> cases = List.of(
                new Case(q, "--threads", "100000", "[0, 256]"), new Case(q, "--threads", "-1", "[0, 256]"),
                new Case(q, "--batch-size", "0", "[1, 65536]"), new Case(q, "--batch-size", "1000000", "[1, 65536]"),
                new Case(q, "--subset-size", "-1", "[0, inf]"),
                new Case(e, "--threads", "100000", "[0, 256]"), new Case(e, "--batch-size", "-1", "[1, 65536]"),
                new Case(e, "--limit", "-1", "[0, inf]"),
                new Case(b, "--threads", "100000", "[0, 256]"), new Case(b, "--batch", "0", "[1, 65536]"),
                new Case(b, "--runs", "0", "[1, 1000000]"), new Case(b, "--warmup", "-1", "[0, 1000000]"),
                new Case(b, "--dim", "batch=-5", "[1, inf]"));
        for (Case c : cases) {
            List<String> args = new ArrayList<>(c.base);
            args.add(c.flag);
            args.add(c.value);
            String shown = c.flag.equals("--dim") ? "--dim batch: -5" : c.flag + ": " + c.value;
            refused(args, shown + " is out of range " + c.range);
        }
        // a non-number is picocli's usage error (exit 2) naming the option
        refused(List.of("benchmark", "--model", m, "--dim", "batch=abc"), "Invalid value for option '--dim' (NAME=SIZE): 'abc' is not a long");
        // a size within the range whose tensor would not fit in memory is refused before allocating
        refused(List.of("benchmark", "--model", m, "--dim", "batch=2000000000", "--runs", "1", "--warmup", "0"),
                "input 'input' of shape [2000000000, 1, 28, 28] is too large for a benchmark input");
    }

    @Test
    void negativeNpyDimensionNamesTheFile() throws IOException {
        byte[] good = Npy.toBytes(org.ptq4j.spi.tensor.Tensor.ofFloats(new long[]{2, 784}, new float[2 * 784]));
        String text = new String(good, StandardCharsets.ISO_8859_1).replace("(2, 784)", "(-2, 784)");
        Path bad = dir.resolve("neg.npy");
        Files.write(bad, text.getBytes(StandardCharsets.ISO_8859_1));
        refused(List.of("benchmark", "--model", dir.resolve("model.onnx").toString(), "--data", bad.toString(), "--runs", "1"),
                bad + ": .npy shape (-2, 784) has '-2'; expected dimensions >= 0");
        Files.write(bad, text.replace("(-2, 784)", "(2, abc)").getBytes(StandardCharsets.ISO_8859_1));
        refused(List.of("benchmark", "--model", dir.resolve("model.onnx").toString(), "--data", bad.toString(), "--runs", "1"),
                bad + ": .npy shape (2, abc) has 'abc'");
    }

    @Test
    void hugeConfigFileNamesTheFile() throws IOException {
        Path huge = dir.resolve("huge.yaml");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) { f.setLength(3L << 30); }   // sparse: no disk used
        refused(List.of("validate", "-c", huge.toString()), huge + " is 3221225472 bytes; a pipeline file is at most 10 MB");
        refused(List.of("quantize", "-c", dir.toString()), dir + ": 1 error", "not a regular file");
    }

    @Test
    void fixedBatchModelWhoseBatchDoesNotDivideTheSamplesFailsBeforeCalibrating() throws IOException {
        Model m = OnnxIO.read(dir.resolve("model.onnx"));
        ValueInfo in = m.graph().inputs().get(0);
        List<Dim> shape = new ArrayList<>(in.shape());
        shape.set(0, Dim.of(4));
        m.graph().inputs().set(0, new ValueInfo(in.name(), in.dtype(), shape));
        OnnxIO.write(m, dir.resolve("fixed4.onnx"));
        refusedPipeline(pipeline("out.onnx").replace("model.onnx", "fixed4.onnx"),
                "datasets.calibration (30 of 30 samples used): 30 samples, but model input 'input' has a fixed batch size of 4");
        assertFalse(stderr.contains("%"), "no progress: nothing was calibrated: " + stderr);
        refusedPipeline(pipeline("out.onnx").replace("model.onnx", "fixed4.onnx").replace("limit: 30", "limit: 32").replace("limit: 100", "limit: 99"),
                "datasets.validation: 99 samples, but model input 'input' has a fixed batch size of 4");
    }

    @Test
    void pluginFolderThatIsAFile() throws IOException {
        Path f = dir.resolve("plugins.jar");
        Files.writeString(f, "x");
        PtqException e = assertThrows(PtqException.class, () -> PluginLoader.load(List.of(f)));
        assertEquals("plugin folder is not a folder: " + f, e.getMessage());
    }

    // ------------------------------------------------------------------ models: external data, declared sizes

    /** The model rewritten by {@code edit}, written to {@code file}. */
    static Path model(Path from, Path file, java.util.function.Consumer<ModelProto.Builder> edit) throws IOException {
        ModelProto.Builder b = ModelProto.parseFrom(Files.readAllBytes(from)).toBuilder();
        edit.accept(b);
        Files.write(file, b.build().toByteArray());
        return file;
    }

    List<String> benchmark(Path model) {
        return List.of("benchmark", "--model", model.toString(), "--runs", "1", "--warmup", "0");
    }

    @Test
    void externalDataThroughASymlinkOrAFifoIsRefused() throws Exception {
        Path ext = dir.resolve("ext");
        OnnxIO.write(OnnxIO.read(dir.resolve("model.onnx")), ext.resolve("m.onnx"), 0);
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.move(ext.resolve("m.onnx.data"), outside.resolve("secret"));
        String first = ModelProto.parseFrom(Files.readAllBytes(ext.resolve("m.onnx"))).getGraph().getInitializerList().stream()
                .filter(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL).findFirst().orElseThrow().getName();
        // a file symlink inside the model folder that leads out of it
        Files.createSymbolicLink(ext.resolve("m.onnx.data"), outside.resolve("secret"));
        refused(benchmark(ext.resolve("m.onnx")), "initializer '" + first + "': external data location 'm.onnx.data' leads (through a symbolic link) to "
                + outside.resolve("secret") + ", outside the model's folder");
        // a symlinked folder
        Files.delete(ext.resolve("m.onnx.data"));
        Files.createSymbolicLink(ext.resolve("sub"), outside);
        model(ext.resolve("m.onnx"), ext.resolve("viafolder.onnx"), b -> relocate(b, "sub/secret"));
        refused(benchmark(ext.resolve("viafolder.onnx")), "external data location 'sub/secret' leads (through a symbolic link) to " + outside.resolve("secret"));
        // a FIFO: would block forever
        assertEquals(0, new ProcessBuilder("mkfifo", ext.resolve("m.onnx.data").toString()).start().waitFor());
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () ->
                refused(benchmark(ext.resolve("m.onnx")), "external data location 'm.onnx.data': " + ext.resolve("m.onnx.data") + " is not a regular file"));
        // a model file that is a FIFO
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60), () ->
                refused(benchmark(ext.resolve("m.onnx.data")), "--model: not a regular file: " + ext.resolve("m.onnx.data")));
        // offsets and lengths that are not numbers >= 0 ("For input string", "Negative position")
        Files.delete(ext.resolve("m.onnx.data"));
        Files.move(outside.resolve("secret"), ext.resolve("m.onnx.data"));
        model(ext.resolve("m.onnx"), ext.resolve("abc.onnx"), b -> externalKey(b, "offset", "abc"));
        refused(benchmark(ext.resolve("abc.onnx")), "initializer '" + first + "': external data offset 'abc' is not a number >= 0");
        model(ext.resolve("m.onnx"), ext.resolve("neg.onnx"), b -> externalKey(b, "offset", "-4096"));
        refused(benchmark(ext.resolve("neg.onnx")), "initializer '" + first + "': external data offset '-4096' is not a number >= 0");
    }

    static void relocate(ModelProto.Builder b, String location) { externalKey(b, "location", location); }

    static void externalKey(ModelProto.Builder b, String key, String value) {
        for (TensorProto.Builder t : b.getGraphBuilder().getInitializerBuilderList())
            for (StringStringEntryProto.Builder e : t.getExternalDataBuilderList()) if (e.getKey().equals(key)) e.setValue(value);
    }

    @Test
    void declaredInitializerSizesAreCheckedBeforeAllocating() throws IOException {
        Path src = dir.resolve("model.onnx");
        record Bomb(long[] dims, String expected) {}
        for (Bomb bomb : List.of(
                new Bomb(new long[]{1L << 28}, "initializer 'bomb' declares shape [268435456] (268435456 elements of FLOAT) but holds 0 values"),
                new Bomb(new long[]{1L << 29}, "initializer 'bomb' declares shape [536870912] of FLOAT (2147483648 bytes); a single tensor is at most 2 GB"),
                new Bomb(new long[]{1L << 31}, "initializer 'bomb' declares shape [2147483648] of FLOAT (8589934592 bytes)"),
                new Bomb(new long[]{1L << 40, 1L << 40}, "initializer 'bomb' declares shape [1099511627776, 1099511627776] of FLOAT (more than 2^63 bytes)"),
                new Bomb(new long[]{-4, 4}, "initializer 'bomb' has a negative dimension in its shape [-4, 4]"))) {
            Path bad = model(src, dir.resolve("bomb.onnx"), b -> {
                TensorProto.Builder t = TensorProto.newBuilder().setName("bomb").setDataType(TensorProto.DataType.FLOAT_VALUE);
                for (long d : bomb.dims) t.addDims(d);
                b.getGraphBuilder().addInitializer(t);
            });
            refused(benchmark(bad), bad.toString(), bomb.expected);
            Files.delete(bad);
        }
        // raw_data of the wrong size ("shape needs -16" before)
        Path bad = model(src, dir.resolve("raw.onnx"), b -> b.getGraphBuilder().addInitializer(TensorProto.newBuilder().setName("raw")
                .setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(2).addDims(3).setRawData(com.google.protobuf.ByteString.copyFrom(new byte[16]))));
        refused(benchmark(bad), "initializer 'raw' has 16 bytes of raw_data, its shape [2, 3] of FLOAT needs 24");
    }
}
