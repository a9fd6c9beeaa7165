package org.ptq4j.plugins.biascorrection;

import org.pf4j.Extension;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Bias Correction, the full variant (POT / NNCF {@code BiasCorrection}).
 * <p>
 * Layers are corrected in topological order, each measured on the quantized model as corrected so
 * far, so that a layer's inputs carry every earlier quantization error and its correction:
 * <pre>  shift[c] = mean_fp32(y)[c] - mean over calibration samples of y_q[c]   (y_q from the partially corrected model)</pre>
 * Layers that do not feed one another are measured in the same pass. Each pass runs only the part
 * of the quantized model the measured layers need and keeps per-channel sums, never activations,
 * so memory stays bounded by one batch whatever the model or subset size; the price is one pass
 * over the subset per group of independent layers.
 */
@Extension
public class BiasCorrection extends BiasCorrectionBase {
    public static final String NAME = "BiasCorrection";

    @Override public String name() { return NAME; }

    @Override public String description() {
        return "Corrects the bias of quantized layers one after another by the mean output shift measured on the partially corrected quantized model";
    }

    @Override double defaultThreshold() { return 1000.0; }


    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext ctx) {
        Model fp32 = fp32(model, NAME);
        Model work = model.copy();
        List<QuantizedLayer> layers = layers(work, fp32, params.getBool("apply_for_all_nodes"));
        Dataset ds = calibration(ctx, NAME);
        int[] idx = subset(ctx, ds, params);
        List<StatisticRequest> requests = new ArrayList<>();
        for (QuantizedLayer l : layers) requests.addAll(l.layer().requests(false));
        // FP32 means on the same samples as the quantized passes
        Statistics fp = fp32Statistics(statistics, fp32, requests, idx.length, params, ctx, NAME);
        List<List<QuantizedLayer>> groups = independentGroups(work, layers);
        ctx.report().put(NAME, "passes over the calibration subset", groups.size() + " (" + idx.length + " samples)");
        int corrected = correctInOrder(work, groups, fp, ds, idx, params.getDouble("threshold"), ctx, NAME).size();
        summarize(ctx, NAME, corrected, layers.size());
        return work;
    }

    /**
     * Corrects the groups one after another, each measured in one pass over {@code idx} on the model
     * as corrected so far; {@code fp} holds the FP32 output means over the same samples. Returns the
     * layers whose bias changed.
     */
    static List<QuantizedLayer> correctInOrder(Model work, List<List<QuantizedLayer>> groups, Statistics fp, Dataset ds, int[] idx,
                                               double threshold, PipelineContext ctx, String step) {
        List<QuantizedLayer> corrected = new ArrayList<>();
        for (List<QuantizedLayer> group : groups) {
            List<String> outs = group.stream().map(QuantizedLayer::output).distinct().toList();
            List<StatisticRequest> qreq = group.stream().map(l -> new StatisticRequest(l.output(), l.layer().outputSpec())).distinct().toList();
            Statistics q = ctx.collect(SubModels.prefix(work, outs), ds, idx, qreq);
            for (QuantizedLayer l : group) {
                Layer f = l.layer();
                float[] fpMean = Means.of(fp.get(f.output(), f.outputSpec()), f.outAxis());
                float[] qMean = Means.of(q.get(l.output(), f.outputSpec()), f.outAxis());
                if (correct(work, l, Means.minus(fpMean, qMean), threshold, ctx, step)) corrected.add(l);
            }
        }
        return corrected;
    }

    /**
     * Splits the layers (in graph order) into consecutive groups in which no layer feeds another:
     * a group's corrections cannot change each other's measurements.
     */
    static List<List<QuantizedLayer>> independentGroups(Model work, List<QuantizedLayer> layers) {
        List<List<QuantizedLayer>> groups = new ArrayList<>();
        List<QuantizedLayer> current = new ArrayList<>();
        for (QuantizedLayer l : layers) {
            List<Node> anc = SubModels.ancestors(work.graph(), List.of(l.output()), Set.of());
            Set<Node> ancestors = Collections.newSetFromMap(new IdentityHashMap<>());
            if (anc != null) ancestors.addAll(anc);
            boolean dependent = current.stream().anyMatch(c -> ancestors.contains(c.node()));
            if (dependent) {
                groups.add(current);
                current = new ArrayList<>();
            }
            current.add(l);
        }
        if (!current.isEmpty()) groups.add(current);
        return groups;
    }
}
