package org.ptq4j.plugins.data.image;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.tensor.Tensor;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Image files decoded on demand: {@link #get} reads, decodes and preprocesses one file, keeping
 * nothing (the host decodes ahead in parallel). Thread-safe.
 */
final class ImageFolderDataset implements Dataset {
    /** One image: its file, a name for messages (path relative to the root) and its label (or -1). */
    record Entry(Path file, String id, long label) {}

    private final String input;
    private final List<Entry> entries;
    private final boolean annotated;
    private final Preprocess preprocess;
    private final long maxPixels;

    ImageFolderDataset(String input, List<Entry> entries, boolean annotated, Preprocess preprocess, long maxPixels) {
        this.input = input;
        this.entries = List.copyOf(entries);
        this.annotated = annotated;
        this.preprocess = preprocess;
        this.maxPixels = maxPixels;
    }

    @Override public int size() { return entries.size(); }

    @Override public boolean annotated() { return annotated; }

    List<Entry> entries() { return entries; }

    @Override
    public Sample get(int index) {
        Entry e = entries.get(index);
        Tensor x = preprocess.apply(decode(e.file(), maxPixels), e.file().toString());
        Tensor label = annotated ? Tensor.ofLongs(new long[0], new long[]{e.label()}) : null;
        return new Sample(index, e.id(), Map.of(input, x), label);
    }

    static BufferedImage decode(Path file) { return decode(file, ImageFolderDatasetFactory.DEFAULT_MAX_PIXELS); }

    /**
     * Decodes with {@code javax.imageio}; any failure is a {@link PtqException} naming the file. The
     * size in the file's header is checked against {@code maxPixels} before any pixel is decoded
     * (a small PNG can declare gigabytes of pixels).
     */
    static BufferedImage decode(Path file, long maxPixels) {
        if (!Files.isRegularFile(file)) throw new PtqException(file + ": cannot decode image: not a regular file");
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext())
                throw new PtqException(file + ": cannot decode image: not in a format javax.imageio reads ("
                        + String.join(", ", ImageFolderDatasetFactory.suffixes()) + ")");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0), h = reader.getHeight(0);
                if (w <= 0 || h <= 0) throw new PtqException(file + ": cannot decode image: its header declares " + w + "x" + h + " pixels");
                if (w * h > maxPixels)
                    throw new PtqException(file + ": image of " + w + "x" + h + " pixels (" + w * h + ") is larger than max_pixels " + maxPixels
                            + " (set the image_folder dataset's 'max_pixels' to allow it)");
                BufferedImage img = reader.read(0);
                if (img == null) throw new PtqException(file + ": cannot decode image");
                return img;
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof PtqException p) throw p;
            throw new PtqException(file + ": cannot decode image: " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
        }
    }
}
