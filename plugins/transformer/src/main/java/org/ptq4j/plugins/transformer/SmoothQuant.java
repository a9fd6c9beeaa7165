package org.ptq4j.plugins.transformer;

import org.ptq4j.spi.model.AnnotationKey;
import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code SmoothQuant} (Xiao et al., 2023): migrates activation outliers into the weights before
 * quantization. For the MatMuls reading activation {@code x[..., K]} with weights {@code W_j[K, N_j]}
 * (e.g. the Q, K and V projections sharing one input), per input channel k:
 * <pre>
 *   s_k = max|x_k|^alpha / max_j,n |W_j[k, n]|^(1 - alpha)
 *   x'  = x / s          (one Mul node per smoothed activation)
 *   W_j' = diag(s) W_j   (weights rescaled in place)
 * </pre>
 * The product is unchanged in exact arithmetic; activations become easier and weights a bit harder
 * to quantize. {@code alpha} (default 0.5) sets the balance. Run it before a quantization step.
 */
@Extension
public final class SmoothQuant implements Algorithm {
    public static final String NAME = "SmoothQuant";
    static final ChannelAbsMaxSpec SPEC = new ChannelAbsMaxSpec();
    private static final float EPS = 1e-5f;

    @Override public String name() { return NAME; }

    @Override public String description() { return "migrates activation outliers of MatMul inputs into the weights (alpha)"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.number("alpha", 0.5, "migration strength: 0 = none, 1 = all activation range into weights").withRange(0.0, 1.0),
                ParamSpec.map("ignored", "MatMuls to leave alone", ParamSpec.strings("names", "node names")));
    }

    /** Activation -> the weight MatMuls reading it. */
    static Map<String, List<Node>> groups(Graph g, Set<String> ignored) {
        Map<String, List<Node>> r = new LinkedHashMap<>();
        for (Node n : g.nodes()) {
            if (n.opType().equals("MatMul") && n.domain().isEmpty() && !ignored.contains(n.name())
                    && DynamicQuantization.isFloatInit(g, n.input(1), 2) && !g.isInitializer(n.input(0)))
                r.computeIfAbsent(n.input(0), k -> new ArrayList<>()).add(n);
        }
        return r;
    }

    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        return groups(model.graph(), Set.copyOf(params.map("ignored").getStrings("names"))).keySet().stream()
                .map(x -> new StatisticRequest(x, SPEC)).toList();
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        double alpha = params.getDouble("alpha");
        Model out = model.copy();
        Graph g = out.graph();
        int smoothed = 0, layers = 0;
        float maxBefore = 0, maxAfter = 0;
        for (Map.Entry<String, List<Node>> e : groups(g, Set.copyOf(params.map("ignored").getStrings("names"))).entrySet()) {
            String x = e.getKey();
            float[] act = statistics.get(x, SPEC);
            int k = act.length;
            float[] wMax = new float[k];
            for (Node n : e.getValue()) {
                Tensor w = g.initializer(n.input(1)).orElseThrow();
                if (w.dim(0) != k) throw new org.ptq4j.spi.PtqException("SmoothQuant: MatMul '" + n.name() + "' weight '" + n.input(1)
                        + "' has " + w.dim(0) + " input channels but activation '" + x + "' has " + k);
                float[] v = w.floats();
                int cols = (int) w.dim(1);
                for (int i = 0; i < v.length; i++) wMax[i / cols] = Math.max(wMax[i / cols], Math.abs(v[i]));
            }
            float[] s = new float[k], inv = new float[k];
            for (int c = 0; c < k; c++) {
                double sc = Math.pow(Math.max(act[c], EPS), alpha) / Math.pow(Math.max(wMax[c], EPS), 1 - alpha);
                s[c] = (float) Math.max(sc, EPS);
                inv[c] = 1f / s[c];
            }
            for (int c = 0; c < k; c++) {
                maxBefore = Math.max(maxBefore, act[c]);
                maxAfter = Math.max(maxAfter, act[c] * inv[c]);
            }

            String invName = g.uniqueName(x + "_smooth_scale"), xs = g.uniqueName(x + "_smoothed");
            g.initializers().put(invName, Tensor.ofFloats(new long[]{k}, inv));
            Node first = e.getValue().get(0);
            g.addNodeBefore(first, Node.of(g.uniqueName(x + "_SmoothQuant_Mul"), "Mul", List.of(x, invName), List.of(xs)));
            for (Node n : e.getValue()) {
                String wName = n.input(1);
                Tensor w = g.initializer(wName).orElseThrow();
                float[] v = w.floats();
                int cols = (int) w.dim(1);
                for (int i = 0; i < v.length; i++) v[i] *= s[i / cols];
                String ws = g.uniqueName(wName + "_smoothed");
                g.initializers().put(ws, Tensor.ofFloats(w.shape(), v));
                n.inputs().set(0, xs);
                n.inputs().set(1, ws);
                layers++;
            }
            smoothed++;
        }
        g.touch();
        g.removeUnusedInitializers();
        g.sortTopologically();
        context.report().put(NAME, "alpha", alpha);
        context.report().put(NAME, "activations_smoothed", smoothed);
        context.report().put(NAME, "matmuls", layers);
        context.report().put(NAME, "max_activation_abs", String.format(java.util.Locale.ROOT, "%.3g -> %.3g", maxBefore, maxAfter));
        AnnotationKey.FP32_MODEL.putIfAbsent(out, model);
        return out;
    }
}
