package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.RangeSpec.Aggregate;
import org.ptq4j.spi.stats.RangeSpec.Reduce;

import java.util.List;
import java.util.Locale;

/**
 * The validated settings of one quantization run, read from the algorithm's parameters (POT's
 * names): preset, target device, weight / activation overrides and the ignored scope.
 *
 * @param weights          how weights are quantized (int8 storage)
 * @param activations      how activations are quantized (uint8 storage)
 * @param ignored          the ignored scope
 * @param subsetSize       calibration samples ({@code stat_subset_size})
 * @param batchSize        calibration batch size ({@code stat_batch_size}, 0: the host's)
 * @param seed             seed of the random subset when {@code shuffle_data}
 * @param shuffle          whether the calibration subset is a seeded random choice
 * @param transformer      {@code model_type: transformer}: weight MatMuls (+ bias Add) rewritten as
 *                         2-D Gemms ({@link GemmRewrite}), embedding Gather tables stored int8,
 *                         {@code mixed} preset by default
 * @param matmulToGemm     {@code matmul_to_gemm}: weight MatMul + bias Add as 2-D Gemm (default: transformer mode only)
 * @param approximateGelu  {@code approximate_gelu}: the erf GELU computed in its tanh form, which ONNX Runtime
 *                         runs as {@code FastGelu} (transformer mode only, default true; {@link TransformerGraph})
 * @param activationMatMul {@code activation_matmul}: a MatMul of two activations whose output is read in integer
 *                         form (attention's probabilities x values) runs as QLinearMatMul ({@link QdqPlan})
 */
record QuantConfig(Side weights, Side activations, Ignored ignored, int subsetSize, int batchSize, long seed, boolean shuffle,
                   boolean transformer, boolean matmulToGemm, boolean approximateGelu, boolean activationMatMul) {

    /**
     * One side (weights or activations).
     *
     * @param bits        quantization levels are 2^bits (weights: signed, activations: unsigned)
     * @param symmetric   symmetric (zero point 0 / 128) or asymmetric (free zero point)
     * @param perChannel  per output channel (weights only)
     * @param range       range estimator: how a tensor's (or channel's) [low, high] is measured
     */
    record Side(int bits, boolean symmetric, boolean perChannel, RangeSpec range) {}

    /** Nodes left in FP32: exact names, regular expressions over names, op types. */
    record Ignored(List<String> names, List<String> patterns, List<String> types, boolean validate) {
        static final Ignored NONE = new Ignored(List.of(), List.of(), List.of(), true);
    }

    static final String[] AGGREGATORS = {"mean", "max", "min", "median"};

    /** The parameters shared by MinMaxQuantization and DefaultQuantization. */
    static List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.choice("preset", null, "performance (default): symmetric weights and activations; mixed (default for model_type transformer): symmetric weights, asymmetric activations", "performance", "mixed"),
                ParamSpec.bool("matmul_to_gemm", null, "rewrite weight MatMul + bias Add as a 2-D Gemm that ONNX Runtime fuses with the bias into QGemm (default: true for model_type transformer, else false)"),
                ParamSpec.bool("approximate_gelu", true, "model_type transformer: compute GELU in its tanh form (max error ~5e-4, below one int8 step), which ONNX Runtime runs as FastGelu, about a third cheaper"),
                ParamSpec.bool("activation_matmul", true, "quantize a MatMul of two activations (attention's probabilities x values) when its output is read in integer form anyway (QLinearMatMul)"),
                ParamSpec.choice("model_type", null, "transformer: weight MatMul + bias as QGemm, int8 embedding tables, mixed preset (default: generic)", "transformer"),
                ParamSpec.integer("stat_subset_size", 300, "number of calibration samples").withRange(1.0, null),
                ParamSpec.integer("stat_batch_size", null, "batch size of the statistics pass (default: the pipeline's)").withRange(1.0, null),
                ParamSpec.integer("seed", 0, "seed of the calibration subset when shuffle_data is true"),
                ParamSpec.bool("shuffle_data", false, "pick a seeded random calibration subset instead of the first samples"),
                ParamSpec.choice("target_device", "ANY", "ANY / CPU: 8-bit weights; CPU_NO_VNNI: 7-bit weights (no int16 saturation on CPUs without VNNI)", "ANY", "CPU", "CPU_NO_VNNI"),
                side("weights", "weight quantization overrides"),
                side("activations", "activation quantization overrides"),
                ParamSpec.map("ignored", "nodes kept in FP32",
                        ParamSpec.strings("names", "exact node names"),
                        ParamSpec.strings("patterns", "regular expressions matched against whole node names"),
                        ParamSpec.strings("types", "op types, e.g. Gemm"),
                        ParamSpec.bool("validate", true, "an entry that matches no node is an error")));
    }

    private static ParamSpec side(String name, String description) {
        return ParamSpec.map(name, description,
                ParamSpec.integer("bits", null, "bits (default 8; weights 7 on CPU_NO_VNNI)").withRange(2.0, 8.0),
                ParamSpec.choice("mode", null, "symmetric | asymmetric (default from preset)", "symmetric", "asymmetric"),
                ParamSpec.choice("granularity", null, "perchannel | pertensor (symmetric weights default perchannel, asymmetric weights pertensor only; activations pertensor only)", "perchannel", "pertensor"),
                ParamSpec.map("range_estimator", "how ranges are measured",
                        ParamSpec.choice("preset", null, "default (min/max) | quantile", "default", "quantile"),
                        ParamSpec.number("outlier_prob", null, "fraction of outliers cut on each side by quantile estimators").withRange(0.0, 0.5),
                        estimator("min", "min", "quantile"),
                        estimator("max", "max", "abs_max", "quantile")));
    }

    private static ParamSpec estimator(String name, String... types) {
        return ParamSpec.map(name, name + " estimator",
                ParamSpec.choice("type", null, "reduction of one sample", types),
                ParamSpec.choice("aggregator", null, "how per-sample values combine", AGGREGATORS),
                ParamSpec.number("outlier_prob", null, "quantile outlier fraction").withRange(0.0, 0.5));
    }

    /** Reads and checks the parameters; errors name the key. */
    static QuantConfig from(Params p, String algorithm) {
        String type = p.string("model_type").orElse("").toLowerCase(Locale.ROOT);
        if (!type.isEmpty() && !type.equals("transformer"))
            throw new PtqException(algorithm + ".model_type: expected transformer (or no value), got '" + type + "'");
        boolean transformer = type.equals("transformer");
        String preset = p.string("preset").orElse(transformer ? "mixed" : "performance").toLowerCase(Locale.ROOT);
        if (!preset.equals("performance") && !preset.equals("mixed"))
            throw new PtqException(algorithm + ".preset: expected performance or mixed, got '" + preset + "'");
        String device = p.string("target_device").orElse("ANY").toUpperCase(Locale.ROOT);
        if (!List.of("ANY", "CPU", "CPU_NO_VNNI", "GPU").contains(device))
            throw new PtqException(algorithm + ".target_device: expected ANY, CPU or CPU_NO_VNNI, got '" + device + "'");
        Side w = side(p.map("weights"), algorithm + ".weights", true, true, device.equals("CPU_NO_VNNI") ? 7 : 8);
        Side a = side(p.map("activations"), algorithm + ".activations", false, preset.equals("performance"), 8);
        if (device.equals("CPU_NO_VNNI") && w.bits() > 7) w = new Side(7, w.symmetric(), w.perChannel(), w.range());
        Params ig = p.map("ignored");
        Ignored ignored = new Ignored(ig.getStrings("names"), ig.getStrings("patterns"), ig.getStrings("types"),
                !ig.has("validate") || ig.getBool("validate"));
        return new QuantConfig(w, a, ignored, p.integer("stat_subset_size").orElse(300),
                p.integer("stat_batch_size").orElse(0), p.integer("seed").orElse(0), p.has("shuffle_data") && p.getBool("shuffle_data"), transformer,
                p.has("matmul_to_gemm") ? p.getBool("matmul_to_gemm") : transformer,
                transformer && (!p.has("approximate_gelu") || p.getBool("approximate_gelu")),
                !p.has("activation_matmul") || p.getBool("activation_matmul"));
    }

    private static Side side(Params p, String key, boolean weights, boolean symmetricDefault, int bitsDefault) {
        int bits = p.integer("bits").orElse(bitsDefault);
        if (bits < 2 || bits > 8) throw new PtqException(key + ".bits: expected 2..8, got " + bits);
        String mode = p.string("mode").orElse(symmetricDefault ? "symmetric" : "asymmetric").toLowerCase(Locale.ROOT);
        if (!mode.equals("symmetric") && !mode.equals("asymmetric"))
            throw new PtqException(key + ".mode: expected symmetric or asymmetric, got '" + mode + "'");
        boolean symmetric = mode.equals("symmetric");
        String gran = p.string("granularity").orElse(weights && symmetric ? "perchannel" : "pertensor").toLowerCase(Locale.ROOT);
        if (!gran.equals("perchannel") && !gran.equals("pertensor"))
            throw new PtqException(key + ".granularity: expected perchannel or pertensor, got '" + gran + "'");
        if (!weights && gran.equals("perchannel"))
            throw new PtqException(key + ".granularity: perchannel activations are not supported (ONNX Runtime has no per-channel activation kernels); use pertensor");
        if (weights && !symmetric && gran.equals("perchannel"))
            throw new PtqException(key + ": mode asymmetric needs granularity pertensor (ONNX Runtime's QLinearConv accepts one weight zero point per layer only)");
        return new Side(bits, symmetric, gran.equals("perchannel"), range(p.map("range_estimator"), key + ".range_estimator", weights, symmetric));
    }

    /**
     * POT's range estimators. Defaults: activations {@code min}/{@code max} per sample, averaged over
     * samples (POT's "default" preset); weights the exact min/max (abs_max when symmetric).
     * The {@code quantile} preset cuts {@code outlier_prob} (default 1e-4) on each side.
     */
    private static RangeSpec range(Params p, String key, boolean weights, boolean symmetric) {
        String preset = p.string("preset").orElse("default").toLowerCase(Locale.ROOT);
        if (!preset.equals("default") && !preset.equals("quantile"))
            throw new PtqException(key + ".preset: expected default or quantile, got '" + preset + "'");
        boolean q = preset.equals("quantile");
        double outlier = p.number("outlier_prob").orElse(1e-4);
        String dAgg = weights ? "min" : "mean";
        Params mn = p.map("min"), mx = p.map("max");
        Reduce lowType = reduce(mn.string("type").orElse(q ? "quantile" : "min"), key + ".min.type");
        Reduce highType = reduce(mx.string("type").orElse(q ? "quantile" : weights && symmetric ? "abs_max" : "max"), key + ".max.type");
        if (lowType == Reduce.MAX || lowType == Reduce.ABS_MAX) throw new PtqException(key + ".min.type: expected min or quantile, got '" + mn.getString("type") + "'");
        if (highType == Reduce.MIN) throw new PtqException(key + ".max.type: expected max, abs_max or quantile, got 'min'");
        Aggregate lowAgg = aggregate(mn.string("aggregator").orElse(dAgg), key + ".min.aggregator");
        Aggregate highAgg = aggregate(mx.string("aggregator").orElse(weights ? "max" : "mean"), key + ".max.aggregator");
        outlier = mx.number("outlier_prob").or(() -> mn.number("outlier_prob")).orElse(outlier);
        if (outlier < 0 || outlier >= 0.5) throw new PtqException(key + ".outlier_prob: expected a value in [0, 0.5), got " + outlier);
        boolean quantile = lowType == Reduce.QUANTILE || highType == Reduce.QUANTILE;
        return new RangeSpec(lowType, lowAgg, highType, highAgg, quantile ? outlier : 0);
    }

    private static Reduce reduce(String s, String key) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "min": return Reduce.MIN;
            case "max": return Reduce.MAX;
            case "abs_max": return Reduce.ABS_MAX;
            case "quantile": return Reduce.QUANTILE;
            default: throw new PtqException(key + ": expected min, max, abs_max or quantile, got '" + s + "'");
        }
    }

    private static Aggregate aggregate(String s, String key) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "mean": return Aggregate.MEAN;
            case "max": return Aggregate.MAX;
            case "min": return Aggregate.MIN;
            case "median": return Aggregate.MEDIAN;
            default: throw new PtqException(key + ": expected mean, max, min or median, got '" + s + "'");
        }
    }
}
