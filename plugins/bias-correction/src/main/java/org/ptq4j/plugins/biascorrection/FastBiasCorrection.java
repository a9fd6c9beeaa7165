package org.ptq4j.plugins.biascorrection;

import org.pf4j.Extension;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
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
 * Fast Bias Correction (POT / NNCF {@code FastBiasCorrection}).
 * <p>
 * For each quantized layer: feed the FP32 mean input (over the calibration samples) to the
 * quantized layer alone (its input Q/DQ, dequantized weights and bias, cut out of the quantized
 * graph), take the per-channel mean of its output, and move the bias by
 * <pre>  shift[c] = mean_fp32(y)[c] - mean_q(layer_q(mean_fp32(x)))[c]</pre>
 * For a linear layer the output mean of the mean input is the mean output, so this is the mean
 * error the weight (and input) quantization adds to the channel. The statistics are taken on the
 * FP32 model and can be collected in the same pass as the quantizer's ranges.
 */
@Extension
public class FastBiasCorrection extends BiasCorrectionBase {
    public static final String NAME = "FastBiasCorrection";

    @Override public String name() { return NAME; }

    @Override public String description() {
        return "Corrects the bias of quantized Conv/Gemm/MatMul layers by the mean output shift of each layer on the FP32 mean input";
    }

    @Override double defaultThreshold() { return 2.0; }

    @Override boolean needsInputMeans() { return true; }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext ctx) {
        Model fp32 = fp32(model, NAME);
        boolean all = params.getBool("apply_for_all_nodes");
        Model work = model.copy();
        List<QuantizedLayer> layers = layers(work, fp32, all);
        List<StatisticRequest> requests = new ArrayList<>();
        for (QuantizedLayer l : layers) requests.addAll(l.layer().requests(true));
        Statistics fp = fp32Statistics(statistics, fp32, requests, 0, params, ctx, NAME);
        double threshold = params.getDouble("threshold");
        int corrected = 0;
        for (QuantizedLayer l : layers) {
            Layer f = l.layer();
            float[] fpMean = Means.of(fp.get(f.output(), f.outputSpec()), f.outAxis());
            float[] qMean = quantizedMean(work, l, inputBlob(f, fp.get(f.input(), f.inputSpec())), ctx);
            if (qMean == null || qMean.length != fpMean.length) {
                ctx.log().warn("{}: layer '{}' skipped: cannot run it alone", NAME, f.name());
                continue;
            }
            if (correct(work, l, Means.minus(fpMean, qMean), threshold, ctx, NAME)) corrected++;
        }
        summarize(ctx, NAME, corrected, layers.size());
        return work;
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

    /** Runs the quantized layer alone on {@code blob}; its per-channel output means, or null when it cannot be cut out. */
    static float[] quantizedMean(Model work, QuantizedLayer l, Tensor blob, PipelineContext ctx) {
        Model sub = SubModels.between(work, l.input(), l.output());
        if (sub == null) return null;
        try (Session s = ctx.engine().open(sub, SessionOptions.defaults().withThreads(ctx.threads()))) {
            Tensor y = s.run(Map.of(l.input(), blob), List.of(l.output())).get(l.output());
            return Means.perChannel(y, l.layer().outAxis());
        }
    }
}
