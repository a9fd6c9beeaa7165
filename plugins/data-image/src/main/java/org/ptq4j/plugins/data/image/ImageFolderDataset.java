package org.ptq4j.plugins.data.image;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
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

    ImageFolderDataset(String input, List<Entry> entries, boolean annotated, Preprocess preprocess) {
        this.input = input;
        this.entries = List.copyOf(entries);
        this.annotated = annotated;
        this.preprocess = preprocess;
    }

    @Override public int size() { return entries.size(); }

    @Override public boolean annotated() { return annotated; }

    List<Entry> entries() { return entries; }

    @Override
    public Sample get(int index) {
        Entry e = entries.get(index);
        Tensor x = preprocess.apply(decode(e.file()), e.file().toString());
        Tensor label = annotated ? Tensor.ofLongs(new long[0], new long[]{e.label()}) : null;
        return new Sample(index, e.id(), Map.of(input, x), label);
    }

    /** Decodes with {@code javax.imageio}; any failure is a {@link PtqException} naming the file. */
    static BufferedImage decode(Path file) {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new PtqException(file + ": cannot decode image: " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
        }
        if (img == null)
            throw new PtqException(file + ": cannot decode image: not in a format javax.imageio reads ("
                    + String.join(", ", ImageFolderDatasetFactory.suffixes()) + ")");
        return img;
    }
}
