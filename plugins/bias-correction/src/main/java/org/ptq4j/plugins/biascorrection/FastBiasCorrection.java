package org.ptq4j.plugins.biascorrection;

import org.pf4j.Extension;
import org.ptq4j.spi.PipelineContext;
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
import java.util.Set;

/**
 * Fast Bias Correction (POT / NNCF {@code FastBiasCorrection}): every quantized layer is judged
 * alone, on the FP32 mean input, so the correction needs no pass over data of its own:
 * <pre>  shift[c] = mean(y_fp32)[c] - mean_c(layer_q(mean(x_fp32)))      bias[c] += shift[c]</pre>
 * {@code mean(x_fp32)} (element-wise over samples; per channel for MatMul) and {@code mean(y_fp32)}
 * (per output channel) are collected on the FP32 model, in the quantizer's statistics pass when
 * DefaultQuantization merges the requests. {@code layer_q} is the layer cut out of the quantized
 * graph from its activation input on (dequantized weights and bias), as NNCF's ONNX backend does;
 * all layers run side by side in one session. For a linear layer the output mean of the mean
 * input is the mean output, so the shift is exactly the mean error of the layer's quantized weights.
 * <p>
 * What that leaves is the shift a layer inherits: its input's rounding, and above all the
 * quantization noise of earlier layers that each Relu rectifies into a positive mean shift, which
 * adds up along the network (on fmnist_resnet with per-tensor weights it is most of the shift the
 * last layers see, the Gemm's above all). With {@code final_waves = k > 0} the last {@code k}
 * groups of {@link BiasCorrection}'s order (layers that do not feed one another; the last group
 * holds the output layers) are then corrected as BiasCorrection corrects them: one after another,
 * each by the shift measured in one pass of the model as corrected so far over the FP32
 * statistics' samples, so that nothing downstream is corrected twice. Each wave costs one pass of
 * the quantized model; {@code final_waves = 0} (the default) is NNCF's estimator.
 */
@Extension
public class FastBiasCorrection extends BiasCorrectionBase {
    public static final String NAME = "FastBiasCorrection";

    @Override public String name() { return NAME; }

    @Override public String description() {
        return "Corrects the bias of quantized Conv/Gemm/MatMul layers by each layer's own mean output shift on FP32 inputs";
    }

    @Override double defaultThreshold() { return 2.0; }

    /** Threshold of the final waves, which measure as BiasCorrection does: its default. */
    static final double WAVE_THRESHOLD = new BiasCorrection().defaultThreshold();

    @Override
    public List<ParamSpec> parameters() {
        List<ParamSpec> p = new ArrayList<>(super.parameters());
        p.add(ParamSpec.integer("final_waves", 0, "the last groups of layers (BiasCorrection's order) corrected again one after another, "
                + "each by its remaining shift measured in one pass of the corrected model over stat_subset_size samples (0: none)").withRange(0.0, null));
        return p;
    }

    /** FP32 mean inputs and per-channel mean outputs of the layers. */
    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        List<StatisticRequest> r = new ArrayList<>();
        for (Layer l : Layer.find(model.graph(), !params.getBool("apply_for_all_nodes"))) r.addAll(l.requests(true));
        return r;
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext ctx) {
        Model fp32 = fp32(model, NAME);
        Model work = model.copy();
        List<QuantizedLayer> layers = layers(work, fp32, params.getBool("apply_for_all_nodes"));
        List<float[]> shifts = shifts(fp32, work, layers, statistics, params, ctx);
        double threshold = params.getDouble("threshold");
        Set<String> corrected = new HashSet<>();
        for (int i = 0; i < layers.size(); i++) {
            if (shifts.get(i) == null) {
                ctx.log().warn("{}: layer '{}' skipped: it cannot be cut out of the quantized graph", NAME, layers.get(i).layer().name());
                continue;
            }
            if (correct(work, layers.get(i), shifts.get(i), threshold, ctx, NAME)) corrected.add(layers.get(i).layer().name());
        }
        int waves = params.getInt("final_waves");
        if (waves > 0 && !layers.isEmpty()) {
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
