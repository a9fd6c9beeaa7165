package org.ptq4j.plugins.data.image;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Batch;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.ValueInfo;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Decoding + preprocessing throughput (images per second) through the host's streaming batches,
 * with 1 and 2 decode threads, side by side in one run. Not part of the default test run:
 * {@code ./mvnw -o test -pl plugins/data-image -Dgroups=benchmark -Dbench.excluded=none}.
 */
@Tag("benchmark")
class ImageDecodeBenchmarkTest {

    @Test
    void fmnistPngs() {
        Map<String, Object> p = ImageFolderDatasetTest.fmnist();
        try (Dataset ds = ImageFolderDatasetTest.open(p, ImageFolderDatasetTest.CNN.graph().feedInputs())) {
            report("fmnist-png 28x28 gray PNG -> [1,28,28] float, normalised", ds, 10);
        }
    }

    @Test
    void imagenetSizedJpegs(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("photos"));
        Random rnd = new Random(1);
        for (int i = 0; i < 64; i++) writeJpeg(photo(500, 375, rnd), dir.resolve(String.format("%03d.jpg", i)));
        Map<String, Object> p = new HashMap<>(Map.of("path", dir.toString(), "resize", 256, "color", "RGB",
                "scale", 1 / 255.0, "mean", List.of(0.485, 0.456, 0.406), "std", List.of(0.229, 0.224, 0.225)));
        List<ValueInfo> in = ImageFolderDatasetTest.rgbInput(224, 224, false);
        try (Dataset ds = ImageFolderDatasetTest.open(p, in)) {
            // single-thread CPU time per stage (robust to other processes on the machine)
            var mx = java.lang.management.ManagementFactory.getThreadMXBean();
            Preprocess pre = ImageFolderDatasetFactory.preprocess(new org.ptq4j.spi.param.Params(p), in.get(0));
            BufferedImage img = ImageFolderDataset.decode(dir.resolve("000.jpg"));
            for (int i = 0; i < 64; i++) { ImageFolderDataset.decode(dir.resolve(String.format("%03d.jpg", i))); pre.apply(img, "x"); }
            long c0 = mx.getCurrentThreadCpuTime();
            for (int rep = 0; rep < 3; rep++) for (int i = 0; i < 64; i++) ImageFolderDataset.decode(dir.resolve(String.format("%03d.jpg", i)));
            long c1 = mx.getCurrentThreadCpuTime();
            for (int i = 0; i < 192; i++) pre.apply(img, "x");
            long c2 = mx.getCurrentThreadCpuTime();
            System.out.printf("  (CPU per image, 1 thread: decode %.2f ms, resize+crop+normalise %.2f ms)%n", (c1 - c0) / 192e6, (c2 - c1) / 192e6);
            report("500x375 JPEG -> resize 256 + center crop 224, RGB, ImageNet mean/std -> [3,224,224] float", ds, 3);
        }
    }

    static void report(String what, Dataset ds, int epochs) {
        int[] idx = IntStream.range(0, epochs * ds.size()).map(i -> i % ds.size()).toArray();
        rate(ds, idx, 1); // warm-up
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long cpu0 = mx.getCurrentThreadCpuTime();
        double one = rate(ds, idx, 1);
        double perCpuSecond = idx.length / ((mx.getCurrentThreadCpuTime() - cpu0) / 1e9);
        double two = rate(ds, idx, 2);
        System.out.printf("%s%n  1 thread: %.0f images/s (%.0f per CPU-second), 2 threads: %.0f images/s (x%.2f); %d images per pass; load average %.1f%n",
                what, one, perCpuSecond, two, two / one, idx.length, java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    static double rate(Dataset ds, int[] idx, int threads) {
        try (HostContext ctx = HostContext.builder().engine(new OrtEngine()).decodeThreads(threads).build()) {
            long t0 = System.nanoTime();
            int n = 0;
            for (Batch b : ctx.batches(ds, idx, 32)) n += b.size();
            assertEquals(idx.length, n);
            return n / ((System.nanoTime() - t0) / 1e9);
        }
    }

    /** Smooth color gradients with a few shapes and sensor-like noise: compresses like a photo. */
    static BufferedImage photo(int w, int h, Random rnd) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        double a = rnd.nextDouble() * 6, b = rnd.nextDouble() * 6;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int r = clamp(128 + 100 * Math.sin(a + x / 60.0) + rnd.nextGaussian() * 6);
                int g = clamp(128 + 100 * Math.cos(b + y / 45.0) + rnd.nextGaussian() * 6);
                int bl = clamp(128 + 80 * Math.sin((x + y) / 80.0) + rnd.nextGaussian() * 6);
                img.setRGB(x, y, (r << 16) | (g << 8) | bl);
            }
        var g = img.createGraphics();
        for (int i = 0; i < 6; i++) {
            g.setColor(new java.awt.Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)));
            g.fillOval(rnd.nextInt(w), rnd.nextInt(h), 40 + rnd.nextInt(120), 40 + rnd.nextInt(120));
        }
        g.dispose();
        return img;
    }

    static int clamp(double v) { return (int) Math.max(0, Math.min(255, v)); }

    static void writeJpeg(BufferedImage img, Path file) throws Exception {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        p.setCompressionQuality(0.9f);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            w.setOutput(out);
            w.write(null, new IIOImage(img, null, null), p);
        } finally {
            w.dispose();
        }
    }
}
