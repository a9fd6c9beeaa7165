package org.ptq4j.plugins.quantization;

import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * POT's DefaultQuantization: {@link MinMaxQuantization}, then bias correction —
 * {@code FastBiasCorrection} when {@code fast_bias_correction} is true (default), or the full
 * {@code BiasCorrection} with {@code bias_correction: true, fast_bias_correction: false}.
 * The bias-correction step's statistics (on the FP32 model) are requested together with the
 * quantizer's, so one calibration pass collects both. A missing bias-correction plugin is noted in
 * the report and skipped.
 */
@Extension
public class DefaultQuantization implements Algorithm {
    static final String SECTION = "DefaultQuantization";

    @Override public String name() { return SECTION; }

    @Override public String description() {
        return "MinMaxQuantization followed by (fast) bias correction";
    }

    @Override
    public List<ParamSpec> parameters() {
        List<ParamSpec> p = new ArrayList<>(QuantConfig.parameters());
        p.add(ParamSpec.bool("fast_bias_correction", null, "run FastBiasCorrection after MinMax (default true; false for model_type transformer, whose Gemm-rewritten layers it does not handle)"));
        p.add(ParamSpec.bool("bias_correction", false, "run the full BiasCorrection (with fast_bias_correction: false)"));
        p.add(ParamSpec.anyMap("bias_correction_params", "extra parameters for the bias-correction step"));
        return List.copyOf(p);
    }

    /** {@code cross_layer_equalization} (default: where outlier channels call for it): {@link CrossLayerEqualization} before the statistics pass. */
    @Override
    public Model transform(Model model, Params params, PipelineContext context) {
        return CrossLayerEqualization.fromParams(model, params, context, name());
    }

    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        QuantConfig cfg = QuantConfig.from(params, name());
        LinkedHashSet<StatisticRequest> all = new LinkedHashSet<>(MinMaxQuantization.requests(
                MinMaxQuantization.prepare(model, cfg, null, name()).plan(cfg, name()), cfg));
        Optional<Algorithm> bc = biasCorrection(params, context);
        if (bc.isPresent()) all.addAll(bc.get().statistics(model, bcParams(bc.get(), params, context), context));
        return List.copyOf(all);
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        Model q = MinMaxQuantization.quantize(model, params, statistics, context, name());
        String wanted = wanted(params);
        if (wanted == null) {
            context.report().put(name(), "bias correction", "off");
            return q;
        }
        Optional<Algorithm> bc = context.algorithm(wanted);
        if (bc.isEmpty()) {
            context.report().put(name(), "bias correction", "skipped");
            context.report().note(name(), wanted + " is not installed: bias correction skipped");
            context.log().warn("{} is not installed: DefaultQuantization continues without bias correction", wanted);
            return q;
        }
        context.report().put(name(), "bias correction", wanted);
        return bc.get().apply(q, bcParams(bc.get(), params, context), statistics, context);
    }

    /** The bias-correction algorithm's name, or null when turned off. */
    private static String wanted(Params p) {
        boolean transformer = "transformer".equalsIgnoreCase(p.string("model_type").orElse(""));
        boolean fast = p.has("fast_bias_correction") ? p.getBool("fast_bias_correction") : !transformer;
        boolean full = p.has("bias_correction") && p.getBool("bias_correction");
        return fast ? "FastBiasCorrection" : full ? "BiasCorrection" : null;
    }

    private static Optional<Algorithm> biasCorrection(Params p, PipelineContext ctx) {
        String w = wanted(p);
        return w == null ? Optional.empty() : ctx.algorithm(w);
    }

    /** Parameters for the bias-correction step: the shared calibration keys plus {@code bias_correction_params}. */
    private static Params bcParams(Algorithm bc, Params p, PipelineContext ctx) {
        Map<String, Object> v = new LinkedHashMap<>();
        List<String> accepted = bc.parameters().stream().map(ParamSpec::name).toList();
        for (String k : List.of("stat_subset_size", "stat_batch_size", "seed", "shuffle_data"))
            if (p.has(k) && accepted.contains(k)) v.put(k, p.raw(k));
        v.putAll(p.map("bias_correction_params").asMap());
        return ctx.params(bc, v);
    }
}
