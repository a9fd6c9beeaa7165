package org.ptq4j.plugins.data.numpy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class NumpyDatasetTest {
    static final Model CNN = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx"));
    static final List<ValueInfo> inputs = CNN.graph().feedInputs();

    static DatasetContext context(List<ValueInfo> in) {
        return new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return in; }
            @Override public Path baseDir() { return TestAssets.shared().resolve("data"); }
        };
    }

    /** The normalisation the shared models want, as dataset parameters. */
    static Map<String, Object> fmnist(Object path) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("path", path);
        p.put("scale", 1 / 255.0);
        p.put("mean", List.of(0.2860));
        p.put("std", List.of(0.3530));
        return p;
    }

    static Dataset open(Map<String, Object> params) {
        return Registry.fromClasspath().dataset("numpy").orElseThrow().open(new Params(params), context(inputs));
    }

    static Metric accuracy() {
        MetricContext mc = new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return CNN.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        };
        return Registry.fromClasspath().metric("accuracy").orElseThrow().create(Params.empty(), mc);
    }

    @Test
    void fmnistTestSplitGivesTheReferenceAccuracy() {
        Map<String, Object> p = fmnist("fmnist-test-10k-u8.npy");
        p.put("labels", "fmnist-test-10k-labels.npy");
        try (Dataset ds = open(p);
             HostContext ctx = HostContext.builder().engine(new OrtEngine()).threads(1).batchSize(250).decodeThreads(2).build()) {
            assertEquals(10_000, ds.size());
            assertTrue(ds.annotated());
            assertEquals(DType.FLOAT, ds.get(0).inputs().get("input").dtype());
            Evaluation ev = ctx.evaluate(CNN, null, accuracy(), ds, IntStream.range(0, ds.size()).toArray());
            assertEquals(10_000, ev.samples());
            assertEquals(0.9043, ev.value(), 1e-9);
            assertEquals(9043, Arrays.stream(ev.perSample()).sum(), 1e-9);
        }
    }

    @Test
    void normalisedPixelsEqualTheSharedNormalisedFile() {
        Tensor expected = TestAssets.npy("fmnist-calib-300.npy");
        try (Dataset ds = open(fmnist("fmnist-calib-300-u8.npy"))) {
            assertEquals(300, ds.size());
            assertFalse(ds.annotated());
            float max = 0;
            for (int i = 0; i < 300; i++) {
                Sample s = ds.get(i);
                assertEquals("fmnist-calib-300-u8.npy[" + i + "]", s.id());
                assertArrayEquals(new long[]{1, 28, 28}, s.inputs().get("input").shape());
                float[] a = s.inputs().get("input").floats(), b = expected.slice0(i, i + 1).floats();
                for (int j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j] - b[j]));
            }
            assertTrue(max < 1e-5, "max difference " + max);
        }
        // already-normalised float rows pass through unchanged (a view, no conversion)
        try (Dataset ds = open(Map.of("path", "fmnist-calib-300.npy"))) {
            assertArrayEquals(expected.slice0(7, 8).floats(), ds.get(7).inputs().get("input").floats());
        }
    }

    @Test
    void npzArchivesMapsAndOtherDtypes(@TempDir Path tmp) throws Exception {
        Tensor rows = TestAssets.npy("fmnist-calib-300.npy").slice0(0, 20);
        Path npz = tmp.resolve("calib.npz");
        try (var zip = new ZipOutputStream(Files.newOutputStream(npz))) {
            zip.putNextEntry(new ZipEntry("input.npy"));
            zip.write(Npy.toBytes(rows));
            zip.putNextEntry(new ZipEntry("other.npy"));
            zip.write(Npy.toBytes(rows.slice0(0, 3)));
        }
        Path f64 = tmp.resolve("f64.npy");
        Npy.write(rows.to(DType.DOUBLE), f64);
        Path labels = tmp.resolve("labels.npy");
        Npy.write(Tensor.ofInts(new long[]{20}, IntStream.range(0, 20).map(i -> i % 10).toArray()), labels);
        for (Map<String, Object> p : List.<Map<String, Object>>of(Map.of("path", npz.toString()), Map.of("path", Map.of("input", f64.toString()), "labels", labels.toString()))) {
            try (Dataset ds = open(p)) {
                assertEquals(20, ds.size());
                for (int i : new int[]{0, 13, 19}) {
                    Tensor x = ds.get(i).inputs().get("input");
                    assertEquals(DType.FLOAT, x.dtype());
                    assertArrayEquals(rows.slice0(i, i + 1).floats(), x.floats(), 1e-6f);
                }
                if (ds.annotated()) assertEquals(13 % 10, ds.get(13).annotation().longs()[0]);
            }
        }
    }

    @Test
    void multiInputModelsMapEachInputToItsFile(@TempDir Path tmp) throws Exception {
        // a two-input model (image + integer ids): each input gets its own file; only the float input is normalised
        List<ValueInfo> two = List.of(inputs.get(0), new ValueInfo("ids", DType.INT64, List.of(org.ptq4j.spi.model.Dim.named("batch"), org.ptq4j.spi.model.Dim.of(4))));
        Path ids = tmp.resolve("ids.npy");
        int[] v = IntStream.range(0, 300 * 4).toArray();
        Npy.write(Tensor.ofInts(new long[]{300, 4}, v), ids);
        Map<String, Object> p = fmnist(Map.of("input", "fmnist-calib-300-u8.npy", "ids", ids.toString()));
        try (Dataset ds = new NumpyDatasetFactory().open(new Params(p), context(two))) {
            Sample s = ds.get(10);
            assertEquals(DType.INT64, s.inputs().get("ids").dtype());
            assertArrayEquals(new long[]{40, 41, 42, 43}, s.inputs().get("ids").longs());
            assertArrayEquals(TestAssets.npy("fmnist-calib-300.npy").slice0(10, 11).floats(), s.inputs().get("input").floats(), 1e-5f);
        }
        // a single file cannot feed two inputs
        var e = assertThrows(PtqException.class, () -> new NumpyDatasetFactory().open(new Params(fmnist("fmnist-calib-300-u8.npy")), context(two)));
        assertTrue(e.getMessage().contains("[input, ids]") && e.getMessage().contains("map"), e.getMessage());
        // rows must agree
        Npy.write(Tensor.ofInts(new long[]{3, 4}, new int[12]), ids);
        e = assertThrows(PtqException.class, () -> new NumpyDatasetFactory().open(new Params(p), context(two)));
        assertTrue(e.getMessage().contains("ids.npy") && e.getMessage().contains("3 rows") && e.getMessage().contains("300"), e.getMessage());
    }

    @Test
    void parallelReadsEqualSequentialReads() {
        try (Dataset ds = open(fmnist("fmnist-test-10k-u8.npy"))) {
            int[] idx = IntStream.range(0, 2000).toArray();
            float[][] seq = Arrays.stream(idx).mapToObj(i -> ds.get(i).inputs().get("input").floats()).toArray(float[][]::new);
            float[][] par = Arrays.stream(idx).parallel().mapToObj(i -> ds.get(i).inputs().get("input").floats()).toArray(float[][]::new);
            for (int i : idx) assertArrayEquals(seq[i], par[i]);
        }
    }

    @Test
    void badInputIsNamed(@TempDir Path tmp) throws Exception {
        Path flat = tmp.resolve("flat.npy");
        Npy.write(TestAssets.npy("fmnist-calib-300.npy").slice0(0, 10).reshape(10, 28, 28), flat);
        var e = assertThrows(PtqException.class, () -> open(Map.of("path", flat.toString())));
        assertTrue(e.getMessage().contains("'input'") && e.getMessage().contains("flat.npy") && e.getMessage().contains("[batch, 1, 28, 28]")
                && e.getMessage().contains("[10, 28, 28]"), e.getMessage());

        Map<String, Object> p = fmnist("fmnist-calib-300-u8.npy");
        p.put("labels", "fmnist-test-1k-labels.npy");
        e = assertThrows(PtqException.class, () -> open(p));
        assertTrue(e.getMessage().contains("fmnist-test-1k-labels.npy") && e.getMessage().contains("1000 labels")
                && e.getMessage().contains("300 rows"), e.getMessage());

        e = assertThrows(PtqException.class, () -> open(Map.of("path", "no-such.npy")));
        assertTrue(e.getMessage().contains("no-such.npy") && e.getMessage().contains("no such file"), e.getMessage());

        e = assertThrows(PtqException.class, () -> open(Map.of("path", Map.of("image", "fmnist-calib-300.npy"))));
        assertTrue(e.getMessage().contains("'path.image'") && e.getMessage().contains("[input]"), e.getMessage());

        Map<String, Object> rgb = fmnist("fmnist-calib-300-u8.npy");
        rgb.put("mean", List.of(0.485, 0.456, 0.406));
        e = assertThrows(PtqException.class, () -> open(rgb));
        assertTrue(e.getMessage().contains("'mean' has 3 values, expected 1 or 1"), e.getMessage());

        Path garbage = tmp.resolve("garbage.npy");
        Files.writeString(garbage, "not numpy at all");
        e = assertThrows(PtqException.class, () -> open(Map.of("path", garbage.toString())));
        assertTrue(e.getMessage().contains("garbage.npy") && e.getMessage().contains("bad magic"), e.getMessage());
    }

    /** An .npz entry whose central-directory size is {@code declared} (bytes patched in place). */
    static Path npzDeclaring(Path file, long declared) throws Exception {
        try (var zip = new ZipOutputStream(Files.newOutputStream(file))) {
            zip.putNextEntry(new java.util.zip.ZipEntry("input.npy"));
            zip.write(org.ptq4j.spi.io.Npy.toBytes(Tensor.ofFloats(new long[]{4, 8}, new float[32])));
            zip.closeEntry();
        }
        byte[] b = Files.readAllBytes(file);
        for (int at = b.length - 22; at >= 0; at--) {
            if (b[at] == 0x50 && b[at + 1] == 0x4b && b[at + 2] == 1 && b[at + 3] == 2) {        // central directory header
                java.nio.ByteBuffer.wrap(b, at + 24, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt((int) declared);
                break;
            }
        }
        Files.write(file, b);
        return file;
    }

    @Test
    void npzEntrySizesBoundWhatIsAllocated(@TempDir Path tmp) throws Exception {
        Path big = npzDeclaring(tmp.resolve("big.npz"), 0xC0000000L);
        PtqException e = assertThrows(PtqException.class, () -> NumpyDatasetFactory.load(big, "input", true));
        assertEquals(big + ":input.npy: entry of 3221225472 bytes; an .npz entry is read into memory and must declare its size, at most 2 GB (save large arrays as .npy: memory-mapped)", e.getMessage());
        for (long lie : new long[]{100, 1 << 30}) {
            Path f = npzDeclaring(tmp.resolve("lie" + lie + ".npz"), lie);
            e = assertThrows(PtqException.class, () -> NumpyDatasetFactory.load(f, "input", true));
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        }
    }
}
