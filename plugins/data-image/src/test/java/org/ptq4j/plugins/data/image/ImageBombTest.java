package org.ptq4j.plugins.data.image;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.cli.Main;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.*;

/** A small PNG that declares gigabytes of pixels is refused from its header, before decoding. */
class ImageBombTest {
    @TempDir Path dir;

    /** A valid PNG header declaring {@code w x h} 8-bit gray pixels, with a few bytes of compressed data. */
    static byte[] png(int w, int h) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(ihdr);
        d.writeInt(w);
        d.writeInt(h);
        d.write(new byte[]{8, 0, 0, 0, 0});
        chunk(out, "IHDR", ihdr.toByteArray());
        Deflater z = new Deflater();
        z.setInput(new byte[1 << 16]);
        z.finish();
        byte[] idat = new byte[1 << 16];
        int n = z.deflate(idat);
        chunk(out, "IDAT", java.util.Arrays.copyOf(idat, n));
        chunk(out, "IEND", new byte[0]);
        return bytes.toByteArray();
    }

    static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
        out.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeInt((int) crc.getValue());
    }

    @Test
    void pngBombIsRefusedFromItsHeader() throws Exception {
        Path bomb = Files.createDirectories(dir.resolve("data/0")).resolve("bomb.png");
        Files.write(bomb, png(20000, 20000));
        assertTrue(Files.size(bomb) < 2000);
        PtqException e = assertThrows(PtqException.class, () -> ImageFolderDataset.decode(bomb, ImageFolderDatasetFactory.DEFAULT_MAX_PIXELS));
        assertEquals(bomb + ": image of 20000x20000 pixels (400000000) is larger than max_pixels 40000000 (set the image_folder dataset's 'max_pixels' to allow it)",
                e.getMessage());
        Files.write(bomb, png(25000, 25000));
        Files.copy(TestAssets.data("fmnist-png").resolve("0_T-shirt_top").resolve(Files.list(TestAssets.data("fmnist-png").resolve("0_T-shirt_top")).sorted().findFirst().orElseThrow().getFileName()),
                Files.createDirectories(dir.resolve("data/1")).resolve("ok.png"));
        // through the CLI: exit 2 naming the file; a configured cap applies
        ByteArrayOutputStream o = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        int code = Main.run(new String[]{"evaluate", "--model", TestAssets.model("fmnist_cnn.onnx").toString(), "--data", dir.resolve("data").toString(),
                        "--metric", "accuracy", "--data-param", "max_pixels=1000"},
                new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), k -> null,
                dirs -> new PluginLoader.Result(Registry.fromClasspath(), List.of(), List.of(), null));
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, stderr);
        assertTrue(stderr.contains(bomb + ": image of 25000x25000 pixels (625000000) is larger than max_pixels 1000"), stderr);
        assertTrue(System.nanoTime() - t0 < 30e9, "refused from the header, not after decoding");
        try (var files = Files.walk(dir)) { assertEquals(6, files.count(), "nothing written"); }
    }

    /** Found by ImageDecoderFuzzTest: a 46341x1 image resized by its shorter side allocated ~270 MB of filter weights. */
    @Test
    void extremeAspectRatiosResizeWithinBoundedMemory() throws Exception {
        java.awt.image.BufferedImage line = new java.awt.image.BufferedImage(100_000, 1, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
        Path f = dir.resolve("line.png");
        javax.imageio.ImageIO.write(line, "png", f.toFile());
        Preprocess cropped = new Preprocess(Preprocess.Color.RGB, 32, 0, 0, 28, 28, 28, 28, 1f, new float[]{0}, new float[]{1}, false, org.ptq4j.spi.tensor.DType.FLOAT);
        org.ptq4j.host.testing.Fuzz.check("100000x1 resized to 32x3200000, cropped 28x28", 64L << 20, 20, () ->
                assertArrayEquals(new long[]{3, 28, 28}, cropped.apply(ImageFolderDataset.decode(f), "line.png").shape()));
        Preprocess uncropped = new Preprocess(Preprocess.Color.RGB, 32, 0, 0, 0, 0, -1, -1, 1f, new float[]{0}, new float[]{1}, false, org.ptq4j.spi.tensor.DType.FLOAT);
        PtqException e = assertThrows(PtqException.class, () -> uncropped.apply(ImageFolderDataset.decode(f), "line.png"));
        assertEquals("line.png: image of 1x100000 (HxW) would be resized to 32x3200000 for shorter side 32; too large (crop it, or give 'resize' as [height, width])", e.getMessage());
    }
}
