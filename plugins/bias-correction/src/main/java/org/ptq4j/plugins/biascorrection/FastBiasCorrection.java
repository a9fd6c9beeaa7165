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
import java.util.List;
import java.util.Map;

/**
 * Fast Bias Correction (POT / NNCF {@code FastBiasCorrection}): every quantized layer is judged
 * alone, on FP32 inputs, so the correction needs no layer-by-layer passes.
 * <pre>  shift[c] = mean(y_fp32)[c] - mean(layer_q(x_fp32))[c]      bias[c] += shift[c]</pre>
 * {@code layer_q} is the quantized layer cut out of the quantized graph (its input Q/DQ,
 * dequantized weights, bias). Two estimators of {@code mean(layer_q(x_fp32))}:
 * <ul>
 * <li>{@code mean_input} (default): NNCF's estimator: the layer's quantized weights applied to the FP32 mean
 *     input (collected, with the FP32 output means, in the quantizer's statistics pass), no extra
 *     pass over data; exact for the weight error of a linear layer, blind to input quantization.</li>
 * <li>{@code samples}: one pass over {@code stat_subset_size} calibration samples of the
 *     FP32 model with a copy of every quantized layer grafted onto its FP32 input
 *     ({@link SubModels#twin}); FP32 and quantized means come from the same samples. This sees the
 *     mean error of input quantization (rounding of constant regions, clipping) as well as the weights'.</li>
 *     It costs a pass over ~2x the model per sample.</li>
 * </ul>
 */
@Extension
public class FastBiasCorrection extends BiasCorrectionBase {
    public static final String NAME = "FastBiasCorrection";

    @Override public String name() { return NAME; }

    @Override public String description() {
        return "Corrects the bias of quantized Conv/Gemm/MatMul layers by each layer's own mean output shift on FP32 inputs";
    }

    @Override double defaultThreshold() { return 2.0; }

    @Override
    public List<ParamSpec> parameters() {
        List<ParamSpec> p = new ArrayList<>(super.parameters());
        p.add(ParamSpec.choice("estimator", "mean_input",
                "mean_input: NNCF's FP32 mean input blob through each quantized layer, no extra pass; samples: quantized layers grafted onto the FP32 model, one extra pass",
                "mean_input", "samples"));
        return p;
    }

    private static boolean meanInput(Params params) { return "mean_input".equals(params.string("estimator").orElse("mean_input")); }

    /** With {@code mean_input}: FP32 mean inputs and per-channel output means (one pass with the quantizer's); else nothing. */
    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        if (!meanInput(params)) return List.of();
        List<StatisticRequest> r = new ArrayList<>();
        for (Layer l : Layer.find(model.graph(), !params.getBool("apply_for_all_nodes"))) r.addAll(l.requests(true));
        return r;
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext ctx) {
        Model fp32 = fp32(model, NAME);
        Model work = model.copy();
        List<QuantizedLayer> layers = layers(work, fp32, params.getBool("apply_for_all_nodes"));
        List<float[]> shifts = meanInput(params) ? shiftsFromMeanInput(fp32, work, layers, statistics, params, ctx)
                : shiftsFromSamples(fp32, work, layers, params, ctx);
        double threshold = params.getDouble("threshold");
        int corrected = 0;
        for (int i = 0; i < layers.size(); i++) {
            if (shifts.get(i) == null) {
                ctx.log().warn("{}: layer '{}' skipped: it cannot be cut out of the quantized graph", NAME, layers.get(i).layer().name());
                continue;
            }
            if (correct(work, layers.get(i), shifts.get(i), threshold, ctx, NAME)) corrected++;
        }
        summarize(ctx, NAME, corrected, layers.size());
        return work;
    }

    /** One pass over the twin model: FP32 output means and quantized-copy output means on the same samples. */
    static List<float[]> shiftsFromSamples(Model fp32, Model work, List<QuantizedLayer> layers, Params params, PipelineContext ctx) {
        SubModels.Twin twin = SubModels.twin(fp32, work, layers);
        List<StatisticRequest> req = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer f = layers.get(i).layer();
            if (twin.outputs().get(i) == null) continue;
            req.add(new StatisticRequest(f.output(), f.outputSpec()));
            req.add(new StatisticRequest(twin.outputs().get(i), f.outputSpec()));
        }
        Dataset ds = calibration(ctx, NAME);
        Statistics s = req.isEmpty() ? Statistics.EMPTY : ctx.collect(twin.model(), ds, subset(ctx, ds, params), req.stream().distinct().toList());
        List<float[]> shifts = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Layer f = layers.get(i).layer();
            String q = twin.outputs().get(i);
            shifts.add(q == null ? null : Means.minus(Means.of(s.get(f.output(), f.outputSpec()), f.outAxis()), Means.of(s.get(q, f.outputSpec()), f.outAxis())));
        }
        return shifts;
    }

    /** NNCF's estimator: each quantized layer (from its activation input on) run on the FP32 mean input; all layers in one session. */
    static List<float[]> shiftsFromMeanInput(Model fp32, Model work, List<QuantizedLayer> layers, Statistics statistics, Params params, PipelineContext ctx) {
        List<StatisticRequest> requests = new ArrayList<>();
        for (QuantizedLayer l : layers) requests.addAll(l.layer().requests(true));
        Statistics fp = fp32Statistics(statistics, fp32, requests, 0, params, ctx, NAME);
        List<Tensor> blobs = new ArrayList<>();
        for (QuantizedLayer l : layers) blobs.add(inputBlob(l.layer(), fp.get(l.layer().input(), l.layer().inputSpec())));
        SubModels.Twin all = SubModels.sideBySide(work, layers, layers.stream().map(l -> l.node().input(0)).toList(),
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
