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
 * @param speedCheck       {@code speed_check}: time layer groups on this CPU and keep in FP32 those faster there
 *                         ({@link SpeedCheck}; auto = target HOST)
 */
record QuantConfig(Side weights, Side activations, Ignored ignored, int subsetSize, int batchSize, long seed, boolean shuffle,
                   boolean transformer, boolean matmulToGemm, boolean approximateGelu, boolean activationMatMul,
                   String target, OverflowFix overflowFix, boolean histogram, boolean weightMse, boolean speedCheck) {

    /** Bins per sign of the histogram estimator. */
    static final int HISTOGRAM_BINS = 2048;

    /** The statistic measured per quantized activation: its {@link RangeSpec}, or the histogram estimator. Both give a {@link org.ptq4j.spi.stats.Range}. */
    org.ptq4j.spi.stats.CollectorSpec activationStat() {
        return histogram ? new org.ptq4j.spi.stats.HistogramSpec(HISTOGRAM_BINS, (1 << activations.bits()) - 1, activations.symmetric()) : activations.range();
    }

    /**
     * What keeps int8 weights from overflowing the int16 pair sums of x86 CPUs without VNNI ({@link Int16Pairs}).
     * NNCF's {@code overflow_fix} values, plus {@code pairwise}.
     */
    enum OverflowFix {
        /** Per channel, the finest grid on which no adjacent same-sign weight pair (in MLAS's order) can saturate ({@link QuantMath#safeChannel}). */
        PAIRWISE,
        /** 7-bit weights in every layer (NNCF ENABLE, ONNX Runtime's reduce_range). */
        ENABLE,
        /** 7-bit weights in the first quantized layer only (NNCF FIRST_LAYER); later layers can still saturate. */
        FIRST_LAYER,
        /** Full 8-bit weights: exact only on CPUs with VNNI / AMX (or arm64). */
        DISABLE
    }

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

    /** This configuration with {@code names} added to the ignored scope (a {@link SpeedCheck} candidate). */
    QuantConfig withIgnoredNames(java.util.Collection<String> names) {
        List<String> all = new java.util.ArrayList<>(ignored.names());
        for (String n : names) if (!all.contains(n)) all.add(n);
        return new QuantConfig(weights, activations, new Ignored(List.copyOf(all), ignored.patterns(), ignored.types(), ignored.validate()),
                subsetSize, batchSize, seed, shuffle, transformer, matmulToGemm, approximateGelu, activationMatMul, target, overflowFix,
                histogram, weightMse, speedCheck);
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
                ParamSpec.bool("cross_layer_equalization", null, "rescale consecutive Conv/Gemm channels (through ReLU / pooling) before calibrating so ranges balance (CrossLayerEqualization; exact in FP32). "
                        + "Default: only when some layer's widest output channel exceeds " + (int) CrossLayerEqualization.AUTO_SPREAD + "x the median channel's weight range (outlier channels)"),
                ParamSpec.integer("stat_subset_size", 300, "number of calibration samples").withRange(1.0, null),
                ParamSpec.integer("stat_batch_size", null, "batch size of the statistics pass (default: the pipeline's)").withRange(1.0, null),
                ParamSpec.integer("seed", 0, "seed of the calibration subset when shuffle_data is true"),
                ParamSpec.bool("shuffle_data", false, "pick a seeded random calibration subset instead of the first samples"),
                ParamSpec.choice("target_device", "ANY", "where the model will run. ANY (= CPU; default): every CPU ONNX Runtime supports, weights on a grid that cannot saturate the int16 pair sums of x86 CPUs without VNNI; "
                        + "CPU_VNNI: CPUs with VNNI/AMX (or arm64) only, full 8-bit weights; CPU_NO_VNNI: as ANY; HOST: this machine's CPU (see 'ptq system')", org.ptq4j.spi.CpuInfo.TARGETS.toArray(String[]::new)),
                ParamSpec.choice("speed_check", "auto", "time the model on this CPU while quantizing and keep in FP32 each group of layers (depthwise Conv, 1x1 Conv, Add, ...) "
                        + "whose INT8 form makes the model slower here; auto (default): for target_device HOST only; on: for any target (the timing is this machine's); off", "auto", "on", "off"),
                ParamSpec.choice("overflow_fix", null, "override the target's weight grid: pairwise (ANY, CPU_NO_VNNI: per channel, no saturating pair), enable (7-bit weights everywhere), "
                        + "first_layer (7-bit in the first layer only), disable (full 8-bit: CPU_VNNI)", "pairwise", "enable", "first_layer", "disable"),
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
                ParamSpec.integer("bits", null, "bits (default 8; weights 7 with overflow_fix: enable)").withRange(2.0, 8.0),
                ParamSpec.choice("mode", null, "symmetric | asymmetric (default from preset)", "symmetric", "asymmetric"),
                ParamSpec.choice("granularity", null, "perchannel | pertensor (symmetric weights default perchannel, asymmetric weights pertensor only; activations pertensor only)", "perchannel", "pertensor"),
                ParamSpec.map("range_estimator", "how ranges are measured",
                        ParamSpec.choice("preset", null, "default (min/max) | quantile | histogram (activations: the clipping range with the least expected squared error, from a 2048-bin histogram of all values) | mse (weights: per channel, the clip with the least squared rounding error)", "default", "quantile", "histogram", "mse"),
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
        if (!org.ptq4j.spi.CpuInfo.TARGETS.contains(device))
            throw new PtqException(algorithm + ".target_device: expected one of " + String.join(", ", org.ptq4j.spi.CpuInfo.TARGETS) + ", got '" + device + "'");
        OverflowFix fix = overflowFix(p, device, algorithm);
        Side w = side(p.map("weights"), algorithm + ".weights", true, true, fix == OverflowFix.ENABLE ? 7 : 8);
        Side a = side(p.map("activations"), algorithm + ".activations", false, preset.equals("performance"), 8);
        if (fix == OverflowFix.ENABLE && w.bits() > 7) w = new Side(7, w.symmetric(), w.perChannel(), w.range());
        if (fix == OverflowFix.PAIRWISE && !w.symmetric()) {      // the pairwise grid is for symmetric weights; 7 bits cannot saturate
            fix = OverflowFix.ENABLE;
            w = new Side(Math.min(7, w.bits()), w.symmetric(), w.perChannel(), w.range());
        }
        Params ig = p.map("ignored");
        Ignored ignored = new Ignored(ig.getStrings("names"), ig.getStrings("patterns"), ig.getStrings("types"),
                !ig.has("validate") || ig.getBool("validate"));
        return new QuantConfig(w, a, ignored, p.integer("stat_subset_size").orElse(300),
                p.integer("stat_batch_size").orElse(0), p.integer("seed").orElse(0), p.has("shuffle_data") && p.getBool("shuffle_data"), transformer,
                p.has("matmul_to_gemm") ? p.getBool("matmul_to_gemm") : transformer,
                transformer && (!p.has("approximate_gelu") || p.getBool("approximate_gelu")),
                !p.has("activation_matmul") || p.getBool("activation_matmul"), device, fix,
                "histogram".equalsIgnoreCase(p.map("activations").map("range_estimator").string("preset").orElse("")),
                "mse".equalsIgnoreCase(p.map("weights").map("range_estimator").string("preset").orElse("")),
                switch (p.string("speed_check").orElse("auto").toLowerCase(Locale.ROOT)) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> device.equals("HOST");
                });
    }

    /** The explicit {@code overflow_fix}, else the target's: full 8 bits only where no CPU it names saturates. */
    private static OverflowFix overflowFix(Params p, String device, String algorithm) {
        if (p.has("overflow_fix")) {
            String v = p.getString("overflow_fix").toUpperCase(Locale.ROOT);
            try {
                return OverflowFix.valueOf(v);
            } catch (IllegalArgumentException e) {
                throw new PtqException(algorithm + ".overflow_fix: expected pairwise, enable, first_layer or disable, got '" + p.getString("overflow_fix") + "'");
            }
        }
        return org.ptq4j.spi.CpuInfo.targetSaturates(device) ? OverflowFix.PAIRWISE : OverflowFix.DISABLE;
    }

    /** One line for the report: the target and what it does to the weights. */
    String targetSummary() {
        String host = target.equals("HOST") ? " (this CPU: " + org.ptq4j.spi.CpuInfo.host().path() + ")" : "";
        String grid = switch (overflowFix) {
            case PAIRWISE -> "weights on a grid no x86 CPU without VNNI can saturate (per channel, adjacent same-sign pairs |w_a|+|w_b| <= 128)";
            case ENABLE -> "7-bit weights (cannot saturate)";
            case FIRST_LAYER -> "7-bit weights in the first layer, 8-bit elsewhere (later layers can saturate on x86 CPUs without VNNI)";
            case DISABLE -> "full 8-bit weights (exact on VNNI/AMX and arm64; int16 pair sums can saturate on x86 CPUs without VNNI)";
        };
        return target + host + ", overflow_fix " + overflowFix.name().toLowerCase(Locale.ROOT) + ": " + grid;
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
        if (preset.equals("histogram") && weights)
            throw new PtqException(key + ".preset: histogram is an activation estimator; weights take default or quantile");
        if (preset.equals("mse") && !weights)
            throw new PtqException(key + ".preset: mse is a weight estimator; activations take default, quantile or histogram");
        if (preset.equals("histogram") || preset.equals("mse")) preset = "default";   // histogram: activationStat(); mse: QuantMath     // the histogram itself is activationStat(); min/max stays the fallback
        if (!preset.equals("default") && !preset.equals("quantile"))
            throw new PtqException(key + ".preset: expected default, quantile or histogram, got '" + preset + "'");
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
