package org.ptq4j.spi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * What this CPU offers ONNX Runtime's int8 kernels, read from {@code /proc/cpuinfo} (Linux). Elsewhere, or
 * when the file cannot be read or parsed, the result is {@link Int8Path#UNKNOWN}: never an exception.
 * <p>
 * Why it matters (ONNX Runtime's MLAS kernels, uint8 activations x int8 weights):
 * <ul>
 *   <li><b>x86 with VNNI or AMX</b> ({@code avx512_vnni}, {@code avx_vnni}, {@code amx_int8}): products are
 *       accumulated in int32 ({@code vpdpbusd}, AMX tiles): exact, and int8 runs ~3x faster than FP32.</li>
 *   <li><b>x86 without VNNI</b> (AVX2, or AVX-512 BW without VNNI): {@code vpmaddubsw} adds each pair of
 *       adjacent uint8 x int8 products into a <em>saturating int16</em>; with full 8-bit weights a pair can
 *       exceed 32767. Speed is about that of FP32.</li>
 *   <li><b>arm64</b>: with the dot-product extension ({@code asimddp}) or {@code i8mm}, int8 is fast and exact;
 *       without, exact (16-bit widening) but not faster.</li>
 * </ul>
 * The system property {@code ptq.cpuinfo} names another file to read (tests, or a deployment machine's
 * {@code /proc/cpuinfo} copied here).
 *
 * @param arch     {@code os.arch} of this JVM (x86_64 / aarch64 / ...)
 * @param model    CPU model name, or "unknown"
 * @param features the int8-relevant feature flags found ({@link #FLAGS})
 * @param path     the int8 path ONNX Runtime takes on this CPU
 * @param source   where the facts came from ({@code /proc/cpuinfo}, or why they are unknown)
 */
public record CpuInfo(String arch, String model, Set<String> features, Int8Path path, String source) {

    /** The {@code target_device} names ptq4j's quantizers take ({@code CPU} is POT's name for {@code ANY}). */
    public static final List<String> TARGETS = List.of("ANY", "CPU", "CPU_VNNI", "CPU_NO_VNNI", "HOST");

    /**
     * Whether a model for {@code target} (one of {@link #TARGETS}) must keep clear of int16 pair saturation:
     * every target but {@code CPU_VNNI}, and {@code HOST} when this CPU saturates (or is unknown).
     */
    public static boolean targetSaturates(String target) {
        return switch (target) {
            case "CPU_VNNI" -> false;
            case "HOST" -> host().path().saturates();
            default -> true;
        };
    }

    /** The flags that decide ONNX Runtime's int8 path. */
    public static final List<String> FLAGS = List.of("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm");

    /** How int8 products are computed on a CPU. */
    public enum Int8Path {
        /** x86 VNNI / AMX: int32 accumulation, exact and fast. */
        X86_VNNI(true, false, "VNNI/AMX: int8 exact and fast"),
        /** x86 AVX2 or AVX-512 without VNNI: saturating int16 pair sums, about FP32 speed. */
        X86_NO_VNNI(false, true, "no VNNI: int16 pair sums saturate with full 8-bit weights; int8 about FP32 speed"),
        /** arm64 with dot product / i8mm: exact and fast. */
        ARM_DOT(true, false, "arm64 dot product: int8 exact and fast"),
        /** arm64 without dot product: exact, not faster than FP32. */
        ARM_NO_DOT(false, false, "arm64 without dot product: int8 exact, about FP32 speed"),
        /** Not known (not Linux, unreadable or unrecognised cpuinfo, other architectures). */
        UNKNOWN(false, true, "unknown CPU: assume int16 saturation and no int8 speed-up");

        private final boolean fast;
        private final boolean saturates;
        private final String summary;

        Int8Path(boolean fast, boolean saturates, String summary) {
            this.fast = fast;
            this.saturates = saturates;
            this.summary = summary;
        }

        /** Whether ONNX Runtime's int8 kernels run clearly faster than FP32 here. */
        public boolean fast() { return fast; }

        /** Whether 8-bit weights can saturate here (or might: unknown CPUs are assumed to). */
        public boolean saturates() { return saturates; }

        /** One line for people. */
        public String summary() { return summary; }
    }

    public CpuInfo {
        features = Collections.unmodifiableSet(new TreeSet<>(features));
    }

    private static volatile CpuInfo host;

    /** This machine (read once). */
    public static CpuInfo host() {
        CpuInfo h = host;
        if (h == null) host = h = detect();
        return h;
    }

    /**
     * Reads the file named by system property {@code ptq.cpuinfo}, else by environment variable {@code PTQ_CPUINFO}
     * (reaches every child process, e.g. test JVMs), else {@code /proc/cpuinfo}; {@link Int8Path#UNKNOWN} when that fails.
     */
    public static CpuInfo detect() {
        String arch = System.getProperty("os.arch", "unknown");
        String override = System.getProperty("ptq.cpuinfo");
        if (override == null || override.isBlank()) override = System.getenv("PTQ_CPUINFO");
        if (override != null && override.isBlank()) override = null;
        Path file = Path.of(override != null ? override : "/proc/cpuinfo");
        if (override == null && !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"))
            return unknown(arch, "not Linux (" + System.getProperty("os.name") + "): CPU features not read");
        String text;
        try {
            if (!Files.isRegularFile(file)) return unknown(arch, file + ": not a readable file");
            byte[] bytes;
            try (var in = Files.newInputStream(file)) {
                bytes = in.readNBytes(4 << 20);              // a real cpuinfo is a few hundred KB at most
            }
            text = new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return unknown(arch, file + ": " + e.getMessage());
        }
        return parse(text, arch, file.toString());
    }

    /** Parses cpuinfo text; {@code arch} is the JVM's (x86 flags and arm64 features are told apart by their names). */
    public static CpuInfo parse(String cpuinfo, String arch, String source) {
        String model = "unknown";
        Set<String> flags = new TreeSet<>();
        boolean sawFlags = false, armFeatures = false;
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String key = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            if (model.equals("unknown") && (key.equals("model name") || key.equals("hardware") || key.equals("cpu model")) && !value.isEmpty())
                model = value;
            if (!sawFlags && (key.equals("flags") || key.equals("features"))) {     // the first processor is enough
                sawFlags = true;
                armFeatures = key.equals("features");                                // arm64 names them "Features"
                for (String f : value.split("\\s+")) if (FLAGS.contains(f.toLowerCase(Locale.ROOT))) flags.add(f.toLowerCase(Locale.ROOT));
            }
        }
        if (!sawFlags) return new CpuInfo(arch, model, Set.of(), Int8Path.UNKNOWN, source + ": no flags line");
        boolean arm = armFeatures || arch.equals("aarch64") || arch.equals("arm64");
        Int8Path p;
        if (flags.contains("avx512_vnni") || flags.contains("avx_vnni") || flags.contains("amx_int8")) p = Int8Path.X86_VNNI;
        else if (flags.contains("avx2") || flags.contains("avx512bw")) p = Int8Path.X86_NO_VNNI;
        else if (flags.contains("asimddp") || flags.contains("i8mm")) p = Int8Path.ARM_DOT;
        else if (arm) p = Int8Path.ARM_NO_DOT;
        else p = Int8Path.UNKNOWN;
        return new CpuInfo(arch, model, flags, p, source);
    }

    private static CpuInfo unknown(String arch, String why) {
        return new CpuInfo(arch, "unknown", Set.of(), Int8Path.UNKNOWN, why);
    }

    /** e.g. {@code AMD EPYC 7B13 (x86_64; avx2; no VNNI: int16 pair sums saturate ...)}. */
    public String describe() {
        return model + " (" + arch + "; " + (features.isEmpty() ? "no int8 flags" : String.join(" ", features)) + "; " + path.summary() + ")";
    }

    /**
     * The line to tell users when int8 gains no speed here ({@code null} when it does):
     * "INT8 runs at about FP32 speed on this CPU; the model is 3.6x smaller".
     *
     * @param sizeRatio FP32 size / INT8 size, or NaN when not known
     */
    public String slowInt8Note(double sizeRatio) {
        if (path.fast()) return null;
        String size = Double.isFinite(sizeRatio) && sizeRatio > 0 ? String.format(Locale.ROOT, "; the model is %.1fx smaller", sizeRatio) : "";
        String why = path == Int8Path.UNKNOWN ? " (CPU features unknown: " + source + ")"
                : path == Int8Path.ARM_NO_DOT ? " (no arm64 dot product)" : " (no VNNI/AMX: " + model + ")";
        return "INT8 runs at about FP32 speed on this CPU" + why + size + "; on CPUs with VNNI/AMX or arm64 dot product it is typically 2-4x faster";
    }
}
