package org.ptq4j.plugins.data.image;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class ImageFolderDatasetTest {
    static final Path PNG = TestAssets.data("fmnist-png");
    static final Model CNN = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx"));

    static DatasetContext context(List<ValueInfo> inputs) {
        return new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return TestAssets.shared().resolve("data"); }
        };
    }

    static Map<String, Object> fmnist() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("path", "fmnist-png");
        p.put("scale", 1 / 255.0);
        p.put("mean", List.of(0.2860));
        p.put("std", List.of(0.3530));
        return p;
    }

    static Dataset open(Map<String, Object> params, List<ValueInfo> inputs) {
        return Registry.fromClasspath().dataset("image_folder").orElseThrow().open(new Params(params), context(inputs));
    }

    static Metric metric(String type, Map<String, Object> params) {
        MetricContext mc = new MetricContext() {
            @Override public List<ValueInfo> modelOutputs() { return CNN.graph().outputs(); }
            @Override public Path baseDir() { return Path.of("."); }
        };
        return Registry.fromClasspath().metric(type).orElseThrow().create(new Params(params), mc);
    }

    static Evaluation evaluate(Dataset ds, Metric metric) {
        try (HostContext ctx = HostContext.builder().engine(new OrtEngine()).threads(1).batchSize(50).decodeThreads(2).build()) {
            return ctx.evaluate(CNN, CNN, metric, ds, IntStream.range(0, ds.size()).toArray());
        }
    }

    /** labels.txt as the test reads it: relative path -> label. */
    static Map<String, Long> labelsTxt() throws Exception {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(PNG.resolve("labels.txt"))) {
            String[] f = line.trim().split(" ");
            if (f.length == 2) m.put(f[0], Long.parseLong(f[1]));
        }
        return m;
    }

    @Test
    void fmnistPngsMatchAnIndependentComputation() throws Exception {
        // independent: plain javax.imageio, hand normalisation, ONNX Runtime directly
        Map<String, Long> truth = labelsTxt();
        List<String> files = new ArrayList<>(truth.keySet());
        float[] batch = new float[files.size() * 784];
        for (int i = 0; i < files.size(); i++) {
            BufferedImage img = ImageIO.read(PNG.resolve(files.get(i)).toFile());
            int[] px = img.getRaster().getSamples(0, 0, 28, 28, 0, (int[]) null);
            for (int j = 0; j < 784; j++) batch[i * 784 + j] = (px[j] / 255f - 0.2860f) / 0.3530f;
        }
        Map<String, Boolean> correctByFile = new HashMap<>();
        int correct = 0;
        try (Ort ort = new Ort(TestAssets.model("fmnist_cnn.onnx"))) {
            float[][] logits = ort.logits("input", batch, new long[]{files.size(), 1, 28, 28});
            for (int i = 0; i < files.size(); i++) {
                boolean ok = Ort.argmax(logits[i]) == truth.get(files.get(i));
                correctByFile.put(files.get(i), ok);
                if (ok) correct++;
            }
        }
        try (Dataset ds = open(fmnist(), CNN.graph().feedInputs())) {
            assertEquals(200, ds.size());
            assertTrue(ds.annotated());
            Map<String, Integer> index = new HashMap<>();
            float maxDiff = 0;
            for (int i = 0; i < ds.size(); i++) {
                Sample s = ds.get(i);
                index.put(s.id(), i);
                assertEquals(truth.get(s.id()), s.annotation().longs()[0], s.id());
                float[] x = s.inputs().get("input").floats();
                int k = files.indexOf(s.id());
                for (int j = 0; j < 784; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j] - batch[k * 784 + j]));
            }
            assertTrue(maxDiff < 1e-6, "max input difference " + maxDiff);
            Evaluation ev = evaluate(ds, metric("accuracy", Map.of()));
            assertEquals(correct / 200.0, ev.value(), 1e-12);
            for (String f : files) assertEquals(correctByFile.get(f) ? 1.0 : 0.0, ev.perSample()[index.get(f)], f);
            assertTrue(ev.value() > 0.8, "accuracy " + ev.value());
        }
    }

    @Test
    void labelsFileGivesTheSameSamplesAsTheFolderLayout() {
        Map<String, Object> p = fmnist();
        p.put("labels_file", "fmnist-png/labels.txt");
        try (Dataset byFile = open(p, CNN.graph().feedInputs()); Dataset byFolder = open(fmnist(), CNN.graph().feedInputs())) {
            assertEquals(byFolder.size(), byFile.size());
            Map<String, Long> a = new HashMap<>(), b = new HashMap<>();
            for (int i = 0; i < byFile.size(); i++) {
                a.put(byFile.get(i).id(), byFile.get(i).annotation().longs()[0]);
                b.put(byFolder.get(i).id(), byFolder.get(i).annotation().longs()[0]);
            }
            assertEquals(b, a);
        }
    }

    @Test
    void parallelDecodingEqualsSequentialDecoding() {
        try (Dataset ds = open(fmnist(), CNN.graph().feedInputs())) {
            float[][] seq = IntStream.range(0, ds.size()).mapToObj(i -> ds.get(i).inputs().get("input").floats()).toArray(float[][]::new);
            float[][] par = IntStream.range(0, ds.size()).parallel().mapToObj(i -> ds.get(i).inputs().get("input").floats()).toArray(float[][]::new);
            for (int i = 0; i < seq.length; i++) assertArrayEquals(seq[i], par[i]);
        }
    }

    // ---- preprocessing on synthetic RGB images ----

    static List<ValueInfo> rgbInput(long h, long w, boolean nhwc) {
        List<Dim> dims = nhwc ? List.of(Dim.named("N"), Dim.of(h), Dim.of(w), Dim.of(3)) : List.of(Dim.named("N"), Dim.of(3), Dim.of(h), Dim.of(w));
        return List.of(new ValueInfo("image", DType.FLOAT, dims));
    }

    /** A w x h RGB PNG: R = x, G = y, B = 200 (a ramp, exactly representable). */
    static Path ramp(Path dir, int w, int h) throws Exception {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (x << 16) | (y << 8) | 200);
        Files.createDirectories(dir);
        Path f = dir.resolve("ramp.png");
        ImageIO.write(img, "png", f.toFile());
        return f;
    }

    @Test
    void colorLayoutAndDtype(@TempDir Path tmp) throws Exception {
        ramp(tmp.resolve("flat"), 8, 6);
        Map<String, Object> p = new HashMap<>(Map.of("path", tmp.resolve("flat").toString()));
        try (Dataset ds = open(p, rgbInput(6, 8, false))) {
            assertFalse(ds.annotated());
            Tensor t = ds.get(0).inputs().get("image");
            assertArrayEquals(new long[]{3, 6, 8}, t.shape());
            float[] v = t.floats();
            assertEquals(5f, v[2 * 8 + 5]);              // R at y=2, x=5 is x
            assertEquals(2f, v[48 + 2 * 8 + 5]);         // G is y
            assertEquals(200f, v[96 + 2 * 8 + 5]);       // B
        }
        p.put("color", "BGR");
        p.put("layout", "NHWC");
        p.put("mean", List.of(100.0, 0.0, 0.0));
        try (Dataset ds = open(p, rgbInput(6, 8, true))) {
            float[] v = ds.get(0).inputs().get("image").floats();
            int at = (2 * 8 + 5) * 3;
            assertArrayEquals(new float[]{100f, 2f, 5f}, Arrays.copyOfRange(v, at, at + 3));
        }
        try (Dataset ds = open(Map.of("path", tmp.resolve("flat").toString(), "color", "GRAY", "dtype", "uint8"),
                List.of(new ValueInfo("image", DType.UINT8, List.of(Dim.named("N"), Dim.of(1), Dim.of(6), Dim.of(8)))))) {
            Tensor t = ds.get(0).inputs().get("image");
            assertEquals(DType.UINT8, t.dtype());
            assertEquals(Math.round(0.299 * 5 + 0.587 * 2 + 0.114 * 200), t.floats()[2 * 8 + 5]);
        }
    }

    @Test
    void pixelReadingAgreesWithJava2dForEveryRasterLayout() {
        java.util.Random rnd = new java.util.Random(3);
        for (int type : new int[]{BufferedImage.TYPE_3BYTE_BGR, BufferedImage.TYPE_4BYTE_ABGR, BufferedImage.TYPE_INT_RGB,
                BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_INT_BGR, BufferedImage.TYPE_BYTE_INDEXED}) {
            BufferedImage img = new BufferedImage(13, 7, type);
            for (int y = 0; y < 7; y++) for (int x = 0; x < 13; x++) img.setRGB(x, y, 0xff000000 | rnd.nextInt(1 << 24));
            float[][] rgb = Preprocess.planes(img, Preprocess.Color.RGB), bgr = Preprocess.planes(img, Preprocess.Color.BGR),
                    gray = Preprocess.planes(img, Preprocess.Color.GRAY);
            for (int y = 0; y < 7; y++)
                for (int x = 0; x < 13; x++) {
                    int p = img.getRGB(x, y), i = y * 13 + x, r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
                    String at = "type " + type + " at " + x + "," + y;
                    assertArrayEquals(new float[]{r, g, b}, new float[]{rgb[0][i], rgb[1][i], rgb[2][i]}, at);
                    assertArrayEquals(new float[]{b, g, r}, new float[]{bgr[0][i], bgr[1][i], bgr[2][i]}, at);
                    assertEquals(0.299 * r + 0.587 * g + 0.114 * b, gray[0][i], 1e-3, at);
                }
        }
    }

    @Test
    void bilinearResizeKeepsLinearRampsAndCropsTheCenter(@TempDir Path tmp) throws Exception {
        ramp(tmp.resolve("flat"), 64, 48);
        // shorter side 24: 48x64 -> 24x32, then the model's 16x16 center crop: rows 4..19, cols 8..23
        try (Dataset ds = open(Map.of("path", tmp.resolve("flat").toString(), "resize", 24), rgbInput(16, 16, false))) {
            float[] v = ds.get(0).inputs().get("image").floats();
            for (int y = 1; y < 15; y++)
                for (int x = 1; x < 15; x++) {
                    // downscaling by 2 averages symmetric taps: output pixel i samples the ramp at 2i + 0.5
                    assertEquals(2 * (x + 8) + 0.5, v[y * 16 + x], 1e-3, "R at " + y + "," + x);
                    assertEquals(2 * (y + 4) + 0.5, v[256 + y * 16 + x], 1e-3, "G at " + y + "," + x);
                    assertEquals(200, v[512 + y * 16 + x], 1e-3);
                }
        }
        // exact upscaling 48x64 -> 96x128 (the model's size): pixel i samples (i + 0.5) / 2 - 0.5
        try (Dataset ds = open(Map.of("path", tmp.resolve("flat").toString()), rgbInput(96, 128, false))) {
            float[] v = ds.get(0).inputs().get("image").floats();
            for (int x = 1; x < 127; x++) assertEquals((x + 0.5) / 2 - 0.5, v[50 * 128 + x], 1e-4, "x " + x);
            assertEquals(0, v[50 * 128], 1e-6);           // edges clamp
            assertEquals(63, v[50 * 128 + 127], 1e-4);
        }
    }

    @Test
    void adobeCmykJpegsAreConvertedToRgb(@TempDir Path tmp) throws Exception {
        // a 4-channel JPEG with an Adobe APP14 marker (transform 0: CMYK, stored inverted as Photoshop does)
        var raster = java.awt.image.Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, 16, 16, 4, null);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) raster.setPixel(x, y, new int[]{255, 0, 0, 255}); // no cyan, full M+Y, no black
        var bytes = new java.io.ByteArrayOutputStream();
        var writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        try (var out = ImageIO.createImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(new javax.imageio.IIOImage(raster, null, null));
        } finally {
            writer.dispose();
        }
        byte[] jpeg = bytes.toByteArray();
        byte[] app14 = {(byte) 0xFF, (byte) 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0};
        Path dir = Files.createDirectories(tmp.resolve("cmyk"));
        try (var out = Files.newOutputStream(dir.resolve("red.jpg"))) {
            out.write(jpeg, 0, 2);  // SOI
            out.write(app14);
            out.write(jpeg, 2, jpeg.length - 2);
        }
        try (Dataset ds = open(Map.of("path", dir.toString()), rgbInput(16, 16, false))) {
            float[] v = ds.get(0).inputs().get("image").floats();
            float r = v[8 * 16 + 8], g = v[256 + 8 * 16 + 8], b = v[512 + 8 * 16 + 8];
            assertTrue(r > 200 && g < 50 && b < 50, "CMYK red decoded as RGB " + r + ", " + g + ", " + b);
        }
    }

    // ---- bad input ----

    @Test
    void anUnreadableImageIsNamed(@TempDir Path tmp) throws Exception {
        Path cls = Files.createDirectories(tmp.resolve("0_cat"));
        Files.copy(PNG.resolve("0_T-shirt_top").resolve(Files.list(PNG.resolve("0_T-shirt_top")).findFirst().orElseThrow().getFileName()), cls.resolve("a.png"));
        Files.writeString(cls.resolve("b.png"), "this is not a PNG");
        Files.write(cls.resolve("c.jpg"), Arrays.copyOf(Files.readAllBytes(cls.resolve("a.png")), 40));
        try (Dataset ds = open(Map.of("path", tmp.toString()), CNN.graph().feedInputs())) {
            assertEquals(3, ds.size());
            ds.get(0);
            for (int i : new int[]{1, 2}) {
                var e = assertThrows(PtqException.class, () -> ds.get(i));
                String f = i == 1 ? "b.png" : "c.jpg";
                assertTrue(e.getMessage().contains(cls.resolve(f).toString()) && e.getMessage().contains("cannot decode"), e.getMessage());
            }
            // the same error reaches the user through the host's parallel decoding
            var e = assertThrows(PtqException.class, () -> evaluate(ds, metric("accuracy", Map.of())));
            assertTrue(e.getMessage().contains("cannot decode") && e.getMessage().contains(cls.toString()), e.getMessage());
        }
    }

    @Test
    void aLabelsFileNamingAMissingFileIsNamed(@TempDir Path tmp) throws Exception {
        Path labels = tmp.resolve("labels.txt");
        Files.writeString(labels, "# path label\n9_Ankle_boot/00000.png 9\n\n3_Dress/nope.png 3\n");
        Map<String, Object> p = fmnist();
        p.put("labels_file", labels.toString());
        var e = assertThrows(PtqException.class, () -> open(p, CNN.graph().feedInputs()));
        assertTrue(e.getMessage().contains(labels + ":4") && e.getMessage().contains("'3_Dress/nope.png' does not exist"), e.getMessage());

        Files.writeString(labels, "9_Ankle_boot/00000.png nine\n");
        e = assertThrows(PtqException.class, () -> open(p, CNN.graph().feedInputs()));
        assertTrue(e.getMessage().contains(labels + ":1") && e.getMessage().contains("integer label"), e.getMessage());
    }

    @Test
    void aLabelOutsideTheModelsClassesIsNamed(@TempDir Path tmp) throws Exception {
        Path labels = tmp.resolve("labels.txt");
        Files.writeString(labels, "9_Ankle_boot/00000.png 9\n2_Pullover/00001.png 12\n");
        Map<String, Object> p = fmnist();
        p.put("labels_file", labels.toString());
        try (Dataset ds = open(p, CNN.graph().feedInputs())) {
            var e = assertThrows(PtqException.class, () -> evaluate(ds, metric("accuracy", Map.of())));
            assertTrue(e.getMessage().contains("label 12") && e.getMessage().contains("10 classes") && e.getMessage().contains("'logits'"), e.getMessage());
        }
    }

    @Test
    void parametersThatDoNotFitTheModelAreNamed() {
        Map<String, Object> p = fmnist();
        p.put("color", "RGB");
        var e = assertThrows(PtqException.class, () -> open(p, CNN.graph().feedInputs()));
        assertTrue(e.getMessage().contains("'input'") && e.getMessage().contains("RGB gives 3 channel(s)") && e.getMessage().contains("has 1"), e.getMessage());

        Map<String, Object> crop = fmnist();
        crop.put("crop", 20);
        try (Dataset ds = open(crop, CNN.graph().feedInputs())) {
            e = assertThrows(PtqException.class, () -> ds.get(0));
            assertTrue(e.getMessage().contains("20x20") && e.getMessage().contains("28x28") && e.getMessage().contains(".png"), e.getMessage());
        }

        e = assertThrows(PtqException.class, () -> metric("accuracy", Map.of("top_k", 11)));
        assertTrue(e.getMessage().contains("'accuracy'") && e.getMessage().contains("top_k 11") && e.getMessage().contains("'logits'"), e.getMessage());
    }
}
