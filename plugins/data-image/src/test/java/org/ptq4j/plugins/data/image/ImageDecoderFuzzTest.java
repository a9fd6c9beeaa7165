package org.ptq4j.plugins.data.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ptq4j.host.testing.Fuzz;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.tensor.DType;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The image dataset's decoding and preprocessing on mutated PNG, JPEG, BMP and GIF files and on PNG
 * headers declaring arbitrary sizes: a {@code PtqException} with a message or a preprocessed
 * tensor, never another exception, at most 256 MB allocated (pixel cap 2^20), within 20 s.
 */
class ImageDecoderFuzzTest {
    static final String[] FORMATS = {"png", "jpg", "bmp", "gif"};
    static byte[][] valid = new byte[FORMATS.length][];
    static Path folder;
    static final Preprocess GRAY = new Preprocess(Preprocess.Color.GRAY, 0, 28, 28, 0, 0, 28, 28, 1f, new float[]{0}, new float[]{1}, false, DType.FLOAT);
    static final Preprocess RGB = new Preprocess(Preprocess.Color.RGB, 32, 0, 0, 28, 28, 28, 28, 1 / 255f, new float[]{0.5f}, new float[]{0.25f}, true, DType.FLOAT);

    @BeforeContainer
    static void setUp() throws IOException {
        folder = Files.createTempDirectory("image-fuzz");
        Path classDir = TestAssets.data("fmnist-png").resolve("0_T-shirt_top");
        Path png;
        try (var s = Files.list(classDir)) { png = s.sorted().findFirst().orElseThrow(); }
        BufferedImage gray = ImageIO.read(png.toFile());
        BufferedImage rgb = new BufferedImage(40, 30, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 30; y++) for (int x = 0; x < 40; x++) rgb.setRGB(x, y, (x * 6) << 16 | (y * 8) << 8 | (x + y));
        valid[0] = Files.readAllBytes(png);
        for (int i = 1; i < FORMATS.length; i++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            if (!ImageIO.write(i == 1 ? rgb : gray, FORMATS[i], out)) throw new IllegalStateException("no writer for " + FORMATS[i]);
            valid[i] = out.toByteArray();
        }
    }

    @AfterContainer
    static void tearDown() throws IOException {
        Fuzz.report(ImageDecoderFuzzTest.class);
        try (var s = Files.walk(folder)) { for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p); }
    }

    static void decode(String what, String suffix, byte[] bytes) {
        Fuzz.check(what, 256L << 20, 20, () -> {
            Path f = folder.resolve("x." + suffix);
            try { Files.write(f, bytes); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
            for (Preprocess p : new Preprocess[]{GRAY, RGB}) {
                var ds = new ImageFolderDataset("input", List.of(new ImageFolderDataset.Entry(f, "x." + suffix, 0)), true, p, 1 << 20);
                ds.get(0);
            }
        });
    }

    @Property
    void mutatedImages(@ForAll("formats") int format, @ForAll("edits") List<int[]> edits) {
        decode(FORMATS[format] + " with edits " + edits.stream().map(java.util.Arrays::toString).toList(), FORMATS[format], Fuzz.mutate(valid[format], edits));
    }

    @Property
    void declaredSizes(@ForAll("sizes") int w, @ForAll("sizes") int h) throws IOException {
        decode("png declaring " + w + "x" + h, "png", ImageBombTest.png(w, h));
    }

    @Provide
    Arbitrary<Integer> formats() { return Arbitraries.integers().between(0, FORMATS.length - 1); }

    @Provide
    Arbitrary<Integer> sizes() {
        return Arbitraries.oneOf(Arbitraries.integers().between(0, 300), Arbitraries.of(-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 1 << 16, 1 << 20, 20000, 46341));
    }

    @Provide
    Arbitrary<List<int[]>> edits() {
        return Arbitraries.integers().array(int[].class).ofSize(3).list().ofMinSize(1).ofMaxSize(4);
    }
}
