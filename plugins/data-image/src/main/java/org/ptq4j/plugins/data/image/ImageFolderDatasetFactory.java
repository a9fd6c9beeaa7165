package org.ptq4j.plugins.data.image;

import org.pf4j.Extension;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.ParamType;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;

import com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReaderSpi;

import javax.imageio.ImageIO;
import javax.imageio.spi.IIORegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * {@code image_folder}: image files (whatever {@code javax.imageio} reads: PNG, JPEG (with
 * TwelveMonkeys' reader: CMYK/YCCK too), BMP, GIF, TIFF, WBMP) under {@code path}, either class-per-folder (ImageNet style: the sorted subfolder
 * order is the class id) or listed in a {@code labels_file} ({@code relative/path label} per line),
 * or a flat folder without labels. Preprocessing: see {@link Preprocess}; sizes, channels, layout
 * and dtype default to what the model input declares.
 */
@Extension
public class ImageFolderDatasetFactory implements DatasetFactory {
    static {
        ImageIO.setUseCache(false); // decode in memory, no temp files
        // TwelveMonkeys' JPEG reader (preferred over the JDK's once registered) also reads CMYK/YCCK JPEGs.
        // Registered by hand: inside a pf4j plugin, ImageIO's service scan does not see the plugin's jar.
        IIORegistry.getDefaultInstance().registerServiceProvider(new JPEGImageReaderSpi());
    }

    @Override public String type() { return "image_folder"; }

    @Override public String description() { return "PNG/JPEG/... images, class-per-folder or a labels file; resize, crop, normalise"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.path("path", "folder of images (class subfolders, or flat)").asRequired(),
                ParamSpec.path("labels_file", "lines 'relative/path label' (paths relative to 'path'); replaces the folder layout"),
                ParamSpec.string("input", null, "model input fed by the images (default: the only input)"),
                any("resize", "int: shorter side; [h, w]: exact size (bilinear). Default: the model's size unless 'crop' is set"),
                any("crop", "center crop, int or [h, w]. Default: the model's size when 'resize' is set"),
                ParamSpec.choice("color", null, "channel order (default: GRAY for 1-channel inputs, else RGB)", "RGB", "BGR", "GRAY"),
                ParamSpec.number("scale", 1.0, "pixels (0..255) are multiplied by this, then mean/std apply"),
                ParamSpec.numbers("mean", List.of(), "subtracted after scaling: one value or one per channel"),
                ParamSpec.numbers("std", List.of(), "divided by after subtracting the mean: one value or one per channel"),
                ParamSpec.choice("layout", null, "tensor layout (default: from the model input's shape)", "NCHW", "NHWC"),
                ParamSpec.string("dtype", null, "element type (default: the model input's)"),
                ParamSpec.integer("max_pixels", DEFAULT_MAX_PIXELS, "largest image (width x height) decoded; checked in the file's header before decoding")
                        .withRange(1.0, (double) Integer.MAX_VALUE));
    }

    /** Default of {@code max_pixels}: 40 megapixels (a decoded image takes ~16 bytes per pixel while preprocessed). */
    static final int DEFAULT_MAX_PIXELS = 40_000_000;

    private static ParamSpec any(String name, String description) {
        return new ParamSpec(name, ParamType.ANY, null, false, description, null, null, null, null);
    }

    static List<String> suffixes() {
        return new TreeSet<>(Arrays.stream(ImageIO.getReaderFileSuffixes()).map(s -> s.toLowerCase(Locale.ROOT)).toList()).stream().toList();
    }

    @Override
    public Dataset open(Params params, DatasetContext context) {
        Path root = resolve(context.baseDir(), params.path("path").orElseThrow(() -> new PtqException("image_folder dataset: 'path' is required")));
        if (!Files.isDirectory(root)) throw new PtqException(root + ": not a folder (image_folder dataset 'path')");
        ValueInfo input = input(params, context.modelInputs() == null ? List.of() : context.modelInputs());
        Preprocess pre = preprocess(params, input);
        var labelsFile = params.path("labels_file").map(p -> resolve(context.baseDir(), p));
        List<ImageFolderDataset.Entry> entries = labelsFile.isPresent() ? fromLabelsFile(root, labelsFile.get()) : fromFolders(root);
        boolean annotated = labelsFile.isPresent() || entries.stream().allMatch(e -> e.label() >= 0);
        if (entries.isEmpty()) throw new PtqException(root + ": no images found (readable suffixes: " + String.join(", ", suffixes()) + ")");
        return new ImageFolderDataset(input.name(), entries, annotated, pre, params.integer("max_pixels").orElse(DEFAULT_MAX_PIXELS));
    }

    /** A FLOAT_LIST value; a single number (as programmatic callers may pass) counts as a one-item list. */
    static List<Double> doubles(Params params, String key) {
        return params.raw(key) instanceof Number n ? List.of(n.doubleValue()) : params.getDoubles(key);
    }

    private static Path resolve(Path base, Path p) { return base == null ? p : base.resolve(p); }

    private static ValueInfo input(Params params, List<ValueInfo> inputs) {
        var name = params.string("input");
        if (name.isPresent()) {
            if (inputs.isEmpty()) return ValueInfo.nameOnly(name.get());
            return inputs.stream().filter(v -> v.name().equals(name.get())).findFirst().orElseThrow(() ->
                    new PtqException("image_folder dataset: 'input' " + name.get() + " is not a model input (inputs: " + inputs.stream().map(ValueInfo::name).toList() + ")"));
        }
        if (inputs.size() == 1) return inputs.get(0);
        if (inputs.isEmpty()) return ValueInfo.nameOnly("input");
        throw new PtqException("image_folder dataset: the model has inputs " + inputs.stream().map(ValueInfo::name).toList() + "; set 'input'");
    }

    /** Reads the preprocessing parameters, filling defaults from (and checking them against) the model input. */
    static Preprocess preprocess(Params params, ValueInfo input) {
        String what = "image_folder dataset, input '" + input.name() + "'";
        List<Dim> shape = input.shape();
        if (shape != null && shape.size() != 4)
            throw new PtqException(what + ": expected an image input [batch, C, H, W] or [batch, H, W, C], the model declares " + shape);
        String layoutParam = params.string("layout").orElse(null);
        boolean nhwc = layoutParam != null ? layoutParam.equals("NHWC")
                : shape != null && !isChannels(shape.get(1)) && isChannels(shape.get(3));
        int channels = shape == null ? -1 : fixed(shape.get(nhwc ? 3 : 1));
        int outH = shape == null ? -1 : fixed(shape.get(nhwc ? 1 : 2)), outW = shape == null ? -1 : fixed(shape.get(nhwc ? 2 : 3));
        Preprocess.Color color = params.string("color").map(c -> color(c, what)).orElse(channels == 1 ? Preprocess.Color.GRAY : Preprocess.Color.RGB);
        if (channels > 0 && channels != color.channels)
            throw new PtqException(what + ": color " + color + " gives " + color.channels + " channel(s) but the model input " + shape
                    + " has " + channels + (layoutParam == null ? "" : " in layout " + layoutParam));
        int[] resize = size(params.raw("resize"), "resize", true);
        int[] crop = size(params.raw("crop"), "crop", false);
        if (resize == null && crop == null && outH > 0 && outW > 0) resize = new int[]{outH, outW};
        if (resize != null && crop == null && outH > 0 && outW > 0 && !(resize.length == 2 && resize[0] == outH && resize[1] == outW))
            crop = new int[]{outH, outW};
        DType dtype;
        try {
            dtype = params.string("dtype").map(DType::parse).orElse(input.dtype() != null ? input.dtype() : DType.FLOAT);
        } catch (IllegalArgumentException e) {
            throw new PtqException(what + ": 'dtype' " + e.getMessage());
        }
        float scale = params.number("scale").orElse(1.0).floatValue();
        float[] mean = perChannel(doubles(params, "mean"), "mean", color.channels, 0, what);
        float[] std = perChannel(doubles(params, "std"), "std", color.channels, 1, what);
        for (float s : std) if (s == 0) throw new PtqException(what + ": 'std' contains 0");
        boolean identity = scale == 1 && mean.length == 1 && mean[0] == 0 && std.length == 1 && std[0] == 1;
        if (!identity && !dtype.isFloatingPoint())
            throw new PtqException(what + ": scale/mean/std need a floating-point input, but the dtype is " + dtype);
        return new Preprocess(color, resize != null && resize.length == 1 ? resize[0] : 0,
                resize != null && resize.length == 2 ? resize[0] : 0, resize != null && resize.length == 2 ? resize[1] : 0,
                crop == null ? 0 : crop[0], crop == null ? 0 : crop[1], outH, outW, scale, mean, std, nhwc, dtype);
    }

    private static Preprocess.Color color(String c, String what) {
        try {
            return Preprocess.Color.valueOf(c.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new PtqException(what + ": 'color' must be one of RGB, BGR, GRAY, got '" + c + "'");
        }
    }

    private static boolean isChannels(Dim d) { return d.isFixed() && (d.value() == 1 || d.value() == 3); }

    private static int fixed(Dim d) { return d.isFixed() ? (int) d.value() : -1; }

    /** int -> {n} (resize: shorter side; crop: square), [h, w] -> {h, w}. */
    private static int[] size(Object raw, String key, boolean shorterSide) {
        if (raw == null) return null;
        List<?> l = raw instanceof List<?> list ? list : List.of(raw);
        try {
            int[] v = l.stream().mapToInt(o -> o instanceof Number n ? n.intValue() : Integer.parseInt(String.valueOf(o).trim())).toArray();
            if ((v.length == 1 || v.length == 2) && Arrays.stream(v).allMatch(x -> x > 0))
                return v.length == 1 && !shorterSide ? new int[]{v[0], v[0]} : v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new PtqException("image_folder dataset: '" + key + "' must be a positive int or [height, width], got " + raw);
    }

    private static float[] perChannel(List<Double> v, String key, int channels, float dflt, String what) {
        if (v.isEmpty()) return new float[]{dflt};
        if (v.size() != 1 && v.size() != channels)
            throw new PtqException(what + ": '" + key + "' has " + v.size() + " values, expected 1 or " + channels + " (one per channel)");
        float[] f = new float[v.size()];
        for (int i = 0; i < f.length; i++) f[i] = v.get(i).floatValue();
        return f;
    }

    /** ImageNet style: sorted subfolders are classes 0..n-1; a folder without subfolders gives unlabelled images. */
    static List<ImageFolderDataset.Entry> fromFolders(Path root) {
        Set<String> suffixes = Set.copyOf(suffixes());
        List<Path> classes = list(root, Files::isDirectory);
        List<ImageFolderDataset.Entry> out = new ArrayList<>();
        if (classes.isEmpty()) {
            for (Path f : images(root, suffixes)) out.add(new ImageFolderDataset.Entry(f, root.relativize(f).toString(), -1));
            return out;
        }
        for (int c = 0; c < classes.size(); c++)
            for (Path f : images(classes.get(c), suffixes)) out.add(new ImageFolderDataset.Entry(f, root.relativize(f).toString(), c));
        return out;
    }

    private static List<Path> list(Path dir, java.util.function.Predicate<Path> keep) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).filter(keep).sorted().toList();
        } catch (IOException e) {
            throw new PtqException(dir + ": cannot list folder: " + e.getMessage(), e);
        }
    }

    private static List<Path> images(Path dir, Set<String> suffixes) {
        try (Stream<Path> s = Files.walk(dir, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            return s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(".")).filter(p -> {
                String n = p.getFileName().toString();
                int dot = n.lastIndexOf('.');
                return dot > 0 && suffixes.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
            }).sorted().toList();
        } catch (IOException e) {
            throw new PtqException(dir + ": cannot list folder: " + e.getMessage(), e);
        }
    }

    /** Lines {@code relative/path label} (the label is the last token; blank lines and '#' comments skipped). */
    static List<ImageFolderDataset.Entry> fromLabelsFile(Path root, Path labels) {
        List<String> lines;
        try {
            lines = Files.readAllLines(labels, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PtqException(labels + ": cannot read labels file: " + e.getMessage(), e);
        }
        List<ImageFolderDataset.Entry> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String where = labels + ":" + (i + 1);
            int sp = Math.max(line.lastIndexOf(' '), line.lastIndexOf('\t'));
            long label;
            try {
                if (sp < 0) throw new NumberFormatException();
                label = Long.parseLong(line.substring(sp + 1));
            } catch (NumberFormatException e) {
                throw new PtqException(where + ": expected 'relative/path label' (an integer label), got '" + line + "'");
            }
            if (label < 0) throw new PtqException(where + ": label " + label + " is negative; expected a class id >= 0");
            String rel = line.substring(0, sp).strip();
            Path file = root.resolve(rel).normalize();
            if (!Files.isRegularFile(file)) throw new PtqException(where + ": image '" + rel + "' does not exist (looked for " + file + ")");
            out.add(new ImageFolderDataset.Entry(file, rel, label));
        }
        return out;
    }
}
