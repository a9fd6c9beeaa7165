package org.ptq4j.plugins.data.numpy;

import org.pf4j.Extension;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * {@code numpy}: samples are the rows (axis 0) of {@code .npy} arrays, one array per model input
 * ({@code path}: a file, or a map input name -> file), optionally with integer {@code labels}.
 * {@code .npy} files are memory-mapped; {@code .npz} archives are read into memory, their entries
 * matched to model inputs by name. Rows are converted to the model input's dtype and normalised
 * per sample: {@code (x * scale - mean) / std}; with several inputs, only the floating-point ones are
 * normalised (integer inputs such as token ids are only converted).
 */
@Extension
public class NumpyDatasetFactory implements DatasetFactory {
    @Override public String type() { return "numpy"; }

    @Override public String description() { return "rows of NumPy .npy/.npz arrays (one per model input), optional labels .npy"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.paths("path", ".npy/.npz file (axis 0 = samples), or a map model input -> file").asRequired(),
                ParamSpec.path("labels", ".npy of integer labels, one per row (annotations)"),
                ParamSpec.number("scale", 1.0, "multiply values by this before mean/std"),
                ParamSpec.numbers("mean", List.of(), "subtracted after scaling: one value or one per channel"),
                ParamSpec.numbers("std", List.of(), "divided by after subtracting the mean: one value or one per channel"),
                ParamSpec.integer("channel_axis", 1, "axis of [batch, ...] that per-channel mean/std apply to").withRange(1.0, null),
                ParamSpec.string("dtype", null, "element type fed to the model (default: the model input's)"));
    }

    @Override
    public Dataset open(Params params, DatasetContext context) {
        List<ValueInfo> inputs = context.modelInputs() == null ? List.of() : context.modelInputs();
        Map<String, Path> files = files(params.raw("path"), inputs, context.baseDir());
        List<NumpyDataset.Input> sources = new ArrayList<>();
        Long rows = null;
        String first = null;
        for (var e : files.entrySet()) {
            String input = e.getKey();
            Path file = e.getValue();
            Tensor array = load(file, input, files.size() == 1 && inputs.size() <= 1);
            String what = "numpy dataset, input '" + input + "' (" + file + ")";
            if (array.rank() < 1) throw new PtqException(what + ": a scalar array; expected samples along axis 0");
            if (rows != null && array.dim(0) != rows)
                throw new PtqException(what + ": has " + array.dim(0) + " rows but " + first + " has " + rows + "; every input needs one row per sample");
            rows = array.dim(0);
            first = file.toString();
            ValueInfo declared = inputs.stream().filter(v -> v.name().equals(input)).findFirst().orElse(null);
            long[] sampleShape = Arrays.copyOfRange(array.shape(), 1, array.rank());
            checkShape(declared, sampleShape, array, what);
            DType target = target(params, declared, array, what);
            // with several inputs, scale/mean/std apply to the floating-point ones (e.g. not to token ids)
            Normalize norm = files.size() > 1 && !target.isFloatingPoint() ? Normalize.none(target)
                    : Normalize.of(params.number("scale").orElse(1.0), doubles(params, "mean"), doubles(params, "std"),
                            params.integer("channel_axis").orElse(1) - 1, sampleShape, target, what);
            sources.add(new NumpyDataset.Input(input, file.getFileName().toString(), array, sampleShape, norm));
        }
        long n = rows;
        if (n > Integer.MAX_VALUE) throw new PtqException(first + ": too many rows (" + n + ")");
        long[] labels = params.path("labels").map(p -> labels(resolve(context.baseDir(), p), files.values().iterator().next(), n)).orElse(null);
        return new NumpyDataset(sources, (int) n, labels);
    }

    /** A FLOAT_LIST value; a single number (as programmatic callers may pass) counts as a one-item list. */
    static List<Double> doubles(Params params, String key) {
        return params.raw(key) instanceof Number n ? List.of(n.doubleValue()) : params.getDoubles(key);
    }

    /** Model input name -> file, from a single path or a map. */
    private static Map<String, Path> files(Object raw, List<ValueInfo> inputs, Path base) {
        List<String> names = inputs.stream().map(ValueInfo::name).toList();
        Map<String, Path> out = new LinkedHashMap<>();
        if (raw == null) throw new PtqException("numpy dataset: 'path' is required (a .npy/.npz file, or a map model input -> file)");
        Map<?, ?> map = raw instanceof Params p ? p.asMap() : raw instanceof Map<?, ?> m ? m : null;
        if (map == null) {
            Path file = resolve(base, raw);
            if (names.size() > 1 && !isNpz(file))
                throw new PtqException("numpy dataset: the model has inputs " + names + "; give 'path' as a map input -> file, or an .npz with one entry per input");
            if (names.isEmpty()) out.put("input", file);
            else for (String n : names) out.put(n, file);
            return out;
        }
        for (var e : map.entrySet()) {
            String input = String.valueOf(e.getKey());
            if (!names.isEmpty() && !names.contains(input))
                throw new PtqException("numpy dataset: 'path." + input + "' names no model input (inputs: " + names + ")");
            out.put(input, resolve(base, e.getValue()));
        }
        List<String> missing = names.stream().filter(n -> !out.containsKey(n)).toList();
        if (!missing.isEmpty()) throw new PtqException("numpy dataset: 'path' gives no file for model input(s) " + missing);
        if (names.isEmpty()) return out;
        Map<String, Path> ordered = new LinkedHashMap<>();   // the model's input order
        for (String n : names) ordered.put(n, out.get(n));
        return ordered;
    }

    private static Path resolve(Path base, Object v) {
        Path p = v instanceof Path q ? q : Path.of(String.valueOf(v));
        return base == null ? p : base.resolve(p);
    }

    private static boolean isNpz(Path p) { return p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".npz"); }

    /** Reads an .npy (memory-mapped) or the entry of an .npz named after {@code input} (or its only entry when {@code single}). */
    static Tensor load(Path file, String input, boolean single) {
        if (!Files.isRegularFile(file)) throw new PtqException(file + ": no such file (numpy dataset, input '" + input + "')");
        if (!isNpz(file)) return Npy.read(file);
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<String> entries = zip.stream().map(ZipEntry::getName).toList();
            ZipEntry entry = zip.getEntry(input + ".npy");
            if (entry == null) entry = zip.getEntry(input);
            if (entry == null && single && entries.size() == 1) entry = zip.getEntry(entries.get(0));
            if (entry == null)
                throw new PtqException(file + ": no entry for model input '" + input + "' (expected '" + input + ".npy'; entries: " + entries + ")");
            // an entry is decompressed into memory: its declared size bounds what is allocated (a small zip can
            // decompress to gigabytes), and the bytes present must match it
            long size = entry.getSize();
            String what = file + ":" + entry.getName();
            if (size < 0 || size > Integer.MAX_VALUE - 8)
                throw new PtqException(what + ": entry of " + (size < 0 ? "unknown" : Long.toString(size)) + " bytes; an .npz entry is read into memory and must declare its size, at most 2 GB (save large arrays as .npy: memory-mapped)");
            byte[] bytes;
            try (var in = zip.getInputStream(entry)) {
                bytes = in.readNBytes((int) size);
                if (bytes.length != size || in.read() != -1)
                    throw new PtqException(what + ": the entry declares " + size + " bytes but holds " + (bytes.length != size ? Integer.toString(bytes.length) : "more"));
            } catch (OutOfMemoryError e) {
                throw new PtqException(what + ": " + size + " bytes do not fit in memory (-Xmx); save the array as .npy (memory-mapped)");
            }
            return Npy.parse(ByteBuffer.wrap(bytes), what);
        } catch (IOException e) {
            throw new PtqException(file + ": cannot read as .npz (zip): " + e.getMessage(), e);
        }
    }

    private static void checkShape(ValueInfo declared, long[] sample, Tensor array, String what) {
        if (declared == null || declared.shape() == null) return;
        List<Dim> dims = declared.shape();
        boolean ok = dims.size() == sample.length + 1;
        for (int a = 1; ok && a < dims.size(); a++) ok = !dims.get(a).isFixed() || dims.get(a).value() == sample[a - 1];
        if (!ok)
            throw new PtqException(what + ": the model expects " + dims + " but the array is " + Arrays.toString(array.shape())
                    + " (samples of " + Arrays.toString(sample) + ")");
    }

    private static DType target(Params params, ValueInfo declared, Tensor array, String what) {
        var override = params.string("dtype");
        if (override.isPresent()) {
            try {
                return DType.parse(override.get());
            } catch (IllegalArgumentException e) {
                throw new PtqException(what + ": 'dtype' " + e.getMessage());
            }
        }
        if (declared != null && declared.dtype() != null) return declared.dtype();
        boolean normalise = params.number("scale").orElse(1.0) != 1 || !doubles(params, "mean").isEmpty() || !doubles(params, "std").isEmpty();
        return normalise ? DType.FLOAT : array.dtype();
    }

    private static long[] labels(Path file, Path data, long rows) {
        Tensor t = load(file, "labels", true);
        String what = "numpy dataset, labels " + file;
        if (t.dtype().isFloatingPoint() || t.dtype() == DType.BOOL)
            throw new PtqException(what + ": labels must be integers, got " + t.dtype());
        if (t.rank() == 0 || t.numElements() != t.dim(0))
            throw new PtqException(what + ": expected one label per row, shape [" + rows + "], got " + Arrays.toString(t.shape()));
        if (t.dim(0) != rows)
            throw new PtqException(what + ": has " + t.dim(0) + " labels but " + data + " has " + rows + " rows");
        long[] v = t.longs();
        for (int i = 0; i < v.length; i++)
            if (v[i] < 0) throw new PtqException(what + ": label " + v[i] + " of row " + i + " is negative; expected a class id >= 0");
        return v;
    }
}
