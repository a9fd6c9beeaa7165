package org.ptq4j.plugins.biascorrection;

import org.pf4j.Extension;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.MeanSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.Set;

/**
 * Fast Bias Correction: per quantized layer, the per-output-channel shift between the FP32 and the
 * quantized model's mean output, subtracted from the bias, at a fraction of {@link BiasCorrection}'s
 * cost. Two estimators ({@code estimator}):
 * <p>
 * <b>{@code propagated}</b> (the default) measures the quantized model itself, so that a layer's
 * shift includes what it inherits from earlier layers: above all the quantization noise that every
 * Relu rectifies into a positive mean shift, which adds up along the network and is most of what the
 * last layers see. A pass of the quantized model over the first {@code measuring_subset_size}
 * calibration samples returns, summed inside the graph, every layer's mean activation input
 * ({@link MeasuringPass}); a layer is linear, so its mean output follows from its mean input, and the
 * FP32 side from FP32's mean input over the same samples, collected in the quantizer's statistics
 * pass ({@link FirstSamplesMeanSpec}). Correcting every layer by the shift measured this way would
 * correct twice (a layer downstream of a corrected one sees its input move too), so the corrections
 * are solved in graph order on a linear model of how a mean shift travels through the network
 * ({@link MeanModel}). Where many inputs share a value (an image's uniform background) the quantized
 * network does not answer linearly, so {@code measuring_passes} (default 2) passes are made, each on
 * the model as corrected so far; the later ones measure a quarter of the samples and add the change
 * they see to the first pass's means. Cost: one session on the quantized model (the later passes feed
 * it the corrected biases) and a pass over 1.25 x {@code measuring_subset_size} samples.
 * <p>
 * <b>{@code nncf}</b> is POT's / NNCF's estimator: every quantized layer is judged alone, on the FP32
 * mean input, so the correction needs no pass over data of its own:
 * <pre>  shift[c] = mean(y_fp32)[c] - mean_c(layer_q(mean(x_fp32)))      bias[c] += shift[c]</pre>
 * {@code layer_q} is the layer cut out of the quantized graph from its activation input on, as NNCF's
 * ONNX backend does; all layers run side by side in one session. It removes the shift a layer's own
 * weights cause, not what the layer inherits.
 * <p>
 * With either, {@code final_waves = k > 0} then corrects the last {@code k} groups of
 * {@link BiasCorrection}'s order (layers that do not feed one another) again as BiasCorrection does,
 * each by the shift measured in one pass of the model as corrected so far.
 */
@Extension
public class FastBiasCorrection extends BiasCorrectionBase {
    public static final String NAME = "FastBiasCorrection";

    @Override public String name() { return NAME; }

    @Override public String description() {
        return "Corrects the bias of quantized Conv/Gemm/MatMul layers by their mean output shift, measured on the quantized model in two short passes";
    }

    @Override double defaultThreshold() { return 2.0; }

    /** Threshold of the final waves, which measure as BiasCorrection does: its default. */
    static final double WAVE_THRESHOLD = new BiasCorrection().defaultThreshold();

    @Override
    public List<ParamSpec> parameters() {
        List<ParamSpec> p = new ArrayList<>(super.parameters());
        p.replaceAll(s -> !s.name().equals("threshold") ? s : ParamSpec.number("threshold", null,
                "skip a layer when max_c |bias change / bias| would reach this (a zero bias element counts as infinite; biases added by "
                + "apply_for_all_nodes are not checked); default " + WAVE_THRESHOLD + " with the '" + PROPAGATED + "' estimator, whose shifts are "
                + "measured (as BiasCorrection's), " + defaultThreshold() + " with '" + NNCF + "' (as NNCF)").withRange(0.0, null));
        p.add(ParamSpec.choice("estimator", PROPAGATED, "how a layer's shift is estimated: '" + PROPAGATED + "' measures the quantized model "
                + "and solves the corrections in graph order on a linear model of how a mean shift travels; '" + NNCF + "' runs each quantized "
                + "layer alone on the FP32 mean input (no pass of its own; misses what a layer inherits from earlier ones)", PROPAGATED, NNCF));
        p.add(ParamSpec.integer("measuring_passes", 2, "passes of the quantized model the '" + PROPAGATED + "' estimator makes, each on the model "
                + "as corrected so far (the second takes out most of what the mean's non-linear response leaves)").withRange(1.0, null));
        p.add(ParamSpec.integer("measuring_subset_size", 32, "calibration samples (the first of the statistics' subset) the '" + PROPAGATED
                + "' estimator's first pass measures; later passes measure a quarter of them").withRange(1.0, null));
        p.add(ParamSpec.integer("final_waves", 0, "the last groups of layers (BiasCorrection's order) corrected again one after another, "
                + "each by its remaining shift measured in one pass of the corrected model over stat_subset_size samples (0: none)").withRange(0.0, null));
        return p;
    }

    static final String PROPAGATED = "propagated", NNCF = "nncf";

    /**
     * FP32 statistics: for the default estimator each layer's mean input over the first
     * {@code measuring_subset_size} samples (and the share of positive values at each Relu); for
     * NNCF's, mean inputs and per-channel mean outputs; with final waves, per-channel mean outputs too.
     */
    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        List<Layer> layers = Layer.find(model.graph(), !params.getBool("apply_for_all_nodes"));
        List<StatisticRequest> r = new ArrayList<>();
        boolean nncf = nncf(params);
        if (!nncf) r.addAll(MeanModel.fp32Requests(model.graph(), layers, params.getInt("measuring_subset_size")));
        if (nncf || params.getInt("final_waves") > 0) for (Layer l : layers) r.addAll(l.requests(nncf));
        return r;
    }

    static boolean nncf(Params params) { return NNCF.equals(params.string("estimator").orElse(PROPAGATED)); }

    /** {@code threshold}, or its default for the estimator. */
    double threshold(Params params, boolean nncf) { return params.number("threshold").orElse(nncf ? defaultThreshold() : WAVE_THRESHOLD); }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext ctx) {
        Model fp32 = fp32(model, NAME);
        Model work = model.copy();
        boolean allNodes = params.getBool("apply_for_all_nodes");
        List<QuantizedLayer> layers = layers(work, fp32, allNodes);
        if (layers.isEmpty()) {                                   // e.g. every layer reverted to FP32 by accuracy-aware search
            ctx.report().put(NAME, "layers corrected", "0 (no quantized layer)");
            return work;
        }
        boolean nncf = nncf(params);
        Set<String> corrected = new HashSet<>();
        if (!nncf) {
            try {
                propagated(fp32, work, layers, statistics, threshold(params, false), params, ctx, corrected);
            } catch (PtqException e) {
                throw e;
            } catch (RuntimeException e) {
                // a model the measuring pass or the mean model cannot handle: NNCF's estimator, which needs neither
                String why = NAME + ": the '" + PROPAGATED + "' estimator failed (" + e + "); falling back to '" + NNCF + "'";
                ctx.log().warn(why);
                ctx.report().note(NAME, why);
                work = model.copy();
                layers = layers(work, fp32, allNodes);
                corrected.clear();
                nncf = true;
            }
        }
        if (nncf) {
            double threshold = threshold(params, true);
            List<float[]> shifts = shifts(fp32, work, layers, statistics, params, ctx);
            for (int i = 0; i < layers.size(); i++) {
                if (shifts.get(i) == null) {
                    ctx.log().warn("{}: layer '{}' skipped: it cannot be cut out of the quantized graph", NAME, layers.get(i).layer().name());
                    continue;
                }
                if (correct(work, layers.get(i), shifts.get(i), threshold, ctx, NAME)) corrected.add(layers.get(i).layer().name());
            }
        }
        int waves = params.getInt("final_waves");
        if (waves > 0 && !layers.isEmpty()) {
            layers = layers(work, fp32, allNodes);
            List<List<QuantizedLayer>> groups = BiasCorrection.independentGroups(work, layers);
            List<List<QuantizedLayer>> last = groups.subList(Math.max(0, groups.size() - waves), groups.size());
            List<StatisticRequest> req = last.stream().flatMap(List::stream).flatMap(l -> l.layer().requests(false).stream()).toList();
            Dataset ds = calibration(ctx, NAME);
            int[] idx = subset(ctx, ds, params);
            Statistics fp = fp32Statistics(statistics, fp32, req, idx.length, params, ctx, NAME);
            ctx.report().put(NAME, "final waves", last.size() + " pass(es) over " + idx.length + " samples");
            for (QuantizedLayer l : BiasCorrection.correctInOrder(work, last, fp, ds, idx, WAVE_THRESHOLD, ctx, NAME)) corrected.add(l.layer().name());
        }
        summarize(ctx, NAME, corrected.size(), layers.size());
        return work;
    }

    /**
     * The default estimator ({@link MeanModel}, {@link MeasuringPass}): {@code measuring_passes} passes
     * of the quantized model, each solved and applied before the next measures what is left. A layer
     * the threshold refuses is left as it is from then on, and the layers after it are solved knowing it.
     */
    static void propagated(Model fp32, Model work, List<QuantizedLayer> layers, Statistics statistics, double threshold,
                           Params params, PipelineContext ctx, Set<String> corrected) {
        Dataset ds = calibration(ctx, NAME);
        int[] idx = subset(ctx, ds, params);
        int wanted = params.getInt("measuring_subset_size"), passes = params.getInt("measuring_passes");
        int[] head = Arrays.copyOf(idx, Math.min(wanted, idx.length));
        int later = Math.max(1, (head.length + 3) / 4);
        List<StatisticRequest> req = MeanModel.fp32Requests(fp32.graph(), layers.stream().map(QuantizedLayer::layer).toList(), wanted);
        Statistics fp = statistics != null && statistics.samples() == idx.length && req.stream().allMatch(statistics::has)
                ? statistics : ctx.collect(fp32, ds, head, req);
        MeanModel model = new MeanModel(work.graph(), fp32.graph(), layers, fp, wanted);
        ctx.report().put(NAME, "measuring passes", passes == 1 ? "1 over " + head.length + " samples"
                : passes + " (the first over " + head.length + " samples, the others over " + later + ")");
        boolean[] enabled = new boolean[layers.size()];
        Arrays.fill(enabled, true);
        try (MeasuringPass measuring = new MeasuringPass(work.graph(), layers, model.inputShapes())) {
            for (int pass = 1; pass <= passes; pass++) {
                List<QuantizedLayer> now = layers.stream().map(l -> QuantizedLayer.find(l.layer(), work.graph())).toList();
                Map<String, Tensor> m;
                if (pass == 1) {
                    CompletableFuture<Void> prepared = CompletableFuture.runAsync(model::prepare); // Java work while ONNX Runtime measures
                    m = measuring.first(work, ds, head, later, ctx);
                    prepared.join();
                } else {
                    m = measuring.again(work, ds, ctx);
                }
                boolean[] before = enabled.clone();
                MeanModel.Solution s = model.solve(m, work, now, enabled, (l, shift) -> rejected(l.bias(work.graph()), shift, l.biasGain(), threshold));
                if (pass == 1) for (String note : s.notes()) {
                    ctx.report().note(NAME, note);
                    ctx.log().info("{}: {}", NAME, note);
                }
                for (int i = 0; i < layers.size(); i++) {
                    float[] shift = s.shifts().get(i);
                    if (shift == null || !before[i]) continue;
                    if (correct(work, now.get(i), shift, threshold, ctx, NAME, pass)) corrected.add(layers.get(i).layer().name());
                    else if (rejected(now.get(i).bias(work.graph()), shift, now.get(i).biasGain(), threshold))
                        enabled[i] = false;               // refused once, left as it is from then on (the solve's own check saw a slightly different shift)
                }
            }
        }
    }

    /** Each quantized layer (from its activation input on) run on the FP32 mean input; all layers in one session. */
    static List<float[]> shifts(Model fp32, Model work, List<QuantizedLayer> layers, Statistics statistics, Params params, PipelineContext ctx) {
        List<StatisticRequest> requests = new ArrayList<>();
        for (QuantizedLayer l : layers) requests.addAll(l.layer().requests(true));
        Statistics fp = fp32Statistics(statistics, fp32, requests, 0, params, ctx, NAME);
        List<Tensor> blobs = new ArrayList<>();
        for (QuantizedLayer l : layers) blobs.add(inputBlob(l.layer(), fp.get(l.layer().input(), l.layer().inputSpec())));
        SubModels.Layers all = SubModels.sideBySide(work, layers, layers.stream().map(l -> l.node().input(0)).toList(),
                blobs.stream().map(Tensor::shape).toList());
        Map<String, Tensor> feeds = new java.util.HashMap<>();
        // the model's inputs are those of the layers that could be cut out, in layer order
        for (int i = 0; i < layers.size(); i++) if (all.outputs().get(i) != null) feeds.put(all.model().graph().inputs().get(feeds.size()).name(), blobs.get(i));
        Map<String, Tensor> out = Map.of();
        if (!feeds.isEmpty()) {
            try (Session s = ctx.engine().open(all.model(), SessionOptions.defaults().withThreads(ctx.threads()))) {
                out = s.run(feeds);
            }
        }
        List<float[]> shifts = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer f = layers.get(i).layer();
            String o = all.outputs().get(i);
            float[] fpMean = Means.of(fp.get(f.output(), f.outputSpec()), f.outAxis());
            float[] qMean = o == null ? null : Means.perChannel(out.get(o), f.outAxis());
            shifts.add(qMean == null || qMean.length != fpMean.length ? null : Means.minus(fpMean, qMean));
        }
        return shifts;
    }

    /** The FP32 mean input as a one-sample batch: the element-wise mean as is, per-channel means as [1, ..., 1, C]. */
    static Tensor inputBlob(Layer f, Object stat) {
        if (stat instanceof Tensor t) return t;
        float[] m = (float[]) stat;
        long[] shape = new long[((MeanSpec) f.inputSpec()).channelAxis() + 1];
        Arrays.fill(shape, 1);
        shape[shape.length - 1] = m.length;
        return Tensor.ofFloats(shape, m);
    }

}
