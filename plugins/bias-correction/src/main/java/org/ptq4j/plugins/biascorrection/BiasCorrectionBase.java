package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.model.AnnotationKey;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What both bias corrections share: parameters, the FP32 statistics, finding the quantized
 * layers, and applying a per-channel output shift to a layer's bias under the threshold rule.
 * The two subclasses differ only in how they measure the shift.
 */
abstract class BiasCorrectionBase implements Algorithm {
    static final String FP32_MODEL = AnnotationKey.FP32_MODEL.name();
    static final String QUANTIZED_LAYERS = AnnotationKey.QUANTIZED_LAYERS.name();

    /** Default of {@code threshold}. */
    abstract double defaultThreshold();

    /** Default of {@code stat_subset_size}. */
    int defaultSubsetSize() { return 300; }


    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.number("threshold", defaultThreshold(),
                        "skip a layer when max_c |bias change / bias| would reach this (a zero bias element counts as infinite; biases added by apply_for_all_nodes are not checked)").withRange(0.0, null),
                ParamSpec.bool("apply_for_all_nodes", false, "also correct quantized layers without a bias, by adding one"),
                ParamSpec.integer("stat_subset_size", defaultSubsetSize(), "calibration samples used for the statistics this step collects itself").withRange(1.0, null),
                ParamSpec.integer("seed", 0, "seed of the calibration subset when shuffle_data is true"),
                ParamSpec.bool("shuffle_data", false, "a seeded random calibration subset instead of the first samples (use the quantizer's setting)"));
    }

    /** Requests on the FP32 model: per-channel output means of the layers. */
    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        List<StatisticRequest> r = new ArrayList<>();
        for (Layer l : Layer.find(model.graph(), !params.getBool("apply_for_all_nodes"))) r.addAll(l.requests(false));
        return r;
    }

    /** The FP32 model the quantizer started from. */
    static Model fp32(Model quantized, String step) {
        Object m = quantized.annotations().get(FP32_MODEL);
        if (!(m instanceof Model fp)) {
            throw new PtqException(step + ": the model has no '" + FP32_MODEL + "' annotation; run MinMaxQuantization "
                    + "(or DefaultQuantization) before this step so that the FP32 layers are known");
        }
        return fp;
    }

    /** The quantized layers of {@code quantized} that bias correction looks at, in graph order. */
    static List<QuantizedLayer> layers(Model quantized, Model fp32, boolean allNodes) {
        Object names = quantized.annotations().get(QUANTIZED_LAYERS);
        List<QuantizedLayer> out = new ArrayList<>();
        for (Layer l : Layer.find(fp32.graph(), !allNodes)) {
            if (names instanceof List<?> list && !list.contains(l.name())) continue;
            QuantizedLayer q = QuantizedLayer.find(l, quantized.graph());
            if (q != null) out.add(q);
        }
        List<org.ptq4j.spi.model.Node> order = quantized.graph().nodes();
        out.sort(java.util.Comparator.comparingInt(q -> order.indexOf(q.node())));
        return out;
    }

    /** The calibration dataset and the sample subset for a pass. */
    static Dataset calibration(PipelineContext ctx, String step) {
        return ctx.dataset(PipelineContext.CALIBRATION).orElseThrow(() ->
                new PtqException(step + ": needs a calibration dataset (dataset role '" + PipelineContext.CALIBRATION + "')"));
    }

    static int[] subset(PipelineContext ctx, Dataset ds, Params params) {
        return ctx.subset(ds, Math.min(params.getInt("stat_subset_size"), ds.size()), params.getLong("seed"), params.getBool("shuffle_data"));
    }

    /** {@code given} when it holds every request; else a pass over the FP32 model collecting them. */
    static Statistics fp32Statistics(Statistics given, Model fp32, List<StatisticRequest> requests, int requiredSamples,
                                     Params params, PipelineContext ctx, String step) {
        boolean complete = given != null && requests.stream().allMatch(given::has)
                && (requiredSamples <= 0 || given.samples() == requiredSamples);
        if (complete) return given;
        Dataset ds = calibration(ctx, step);
        int[] idx = subset(ctx, ds, params);
        return ctx.collect(fp32, ds, idx, requests);
    }

    /**
     * Moves {@code layer}'s output by {@code shift} (FP32 mean minus quantized mean, per channel)
     * through its bias unless the threshold rule rejects it, and reports the mean |shift| before and after.
     * Returns whether the bias was changed.
     */
    static boolean correct(Model work, QuantizedLayer layer, float[] shift, double threshold, PipelineContext ctx, String step) {
        return correct(work, layer, shift, threshold, ctx, step, null);
    }

    /** {@link #correct} with the measuring pass it belongs to in the report row (when not null). */
    static boolean correct(Model work, QuantizedLayer layer, float[] shift, double threshold, PipelineContext ctx, String step, Integer pass) {
        float[] bias = layer.bias(work.graph());
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("layer", layer.layer().name());
        if (pass != null) row.put("pass", pass);
        row.put("op", layer.layer().opType());
        row.put("channels", shift.length);
        row.put("mean_abs_shift_before", Means.meanAbs(shift));
        if (bias != null && bias.length != shift.length) {
            row.put("mean_abs_shift_after", Means.meanAbs(shift));
            row.put("status", "skipped: bias has " + bias.length + " values for " + shift.length + " channels");
            ctx.report().row(step, "layers", row);
            return false;
        }
        double magnitude = bias == null ? 0 : relativeChange(bias, shift, layer.biasGain());
        if (magnitude >= threshold) {
            row.put("mean_abs_shift_after", Means.meanAbs(shift));
            row.put("status", String.format(java.util.Locale.ROOT, "skipped: relative bias change %.3g >= threshold %.3g", magnitude, threshold));
            ctx.report().row(step, "layers", row);
            ctx.log().debug("{}: {} skipped by threshold (magnitude {})", step, layer.layer().name(), magnitude);
            return false;
        }
        float[] applied = layer.shiftOutput(work, shift);
        row.put("mean_abs_shift_after", Means.meanAbs(Means.minus(shift, applied)));
        if (bias != null && Means.meanAbs(applied) == 0) {
            row.put("status", "unchanged: the shift is below the bias's resolution");
            ctx.report().row(step, "layers", row);
            return false;
        }
        row.put("status", bias == null ? "corrected (bias added)" : "corrected");
        ctx.report().row(step, "layers", row);
        return true;
    }

    /** Whether {@link #correct} would leave a layer with bias {@code bias} (null: none) as it is for {@code shift}. */
    static boolean rejected(float[] bias, float[] shift, float gain, double threshold) {
        if (bias == null) return false;
        return bias.length != shift.length || relativeChange(bias, shift, gain) >= threshold;
    }

    /** max_c |Δb_c / b_c| as in POT/NNCF; infinite when a bias element is zero. */
    static double relativeChange(float[] bias, float[] shift, float gain) {
        double m = 0;
        for (int c = 0; c < bias.length; c++) {
            if (bias[c] == 0) return Double.POSITIVE_INFINITY;
            m = Math.max(m, Math.abs(shift[c] / gain / bias[c]));
        }
        return m;
    }

    static void summarize(PipelineContext ctx, String step, int corrected, int total) {
        ctx.report().put(step, "layers corrected", corrected + " of " + total);
        ctx.log().info("{}: corrected the bias of {} of {} layers", step, corrected, total);
    }
}
