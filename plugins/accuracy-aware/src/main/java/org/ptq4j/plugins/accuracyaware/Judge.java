package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Measures candidate models against FP32 and counts what it costs: full evaluations (the whole
 * validation set, through the host's {@code evaluate}) and cheap ranking evaluations (a small
 * ranking subset held in memory, with the FP32 outputs computed once).
 */
final class Judge {
    /** A ranking-subset measurement: the metric value and the relative output error vs FP32. */
    record Score(double metric, double outputError) {}

    private final PipelineContext ctx;
    private final Model fp32;
    private final Metric metric;
    private final Dataset data;
    private final int[] all;
    private final int[] holdout;
    int holdoutEvaluations;
    private List<Batch> subset = List.of();
    private List<Map<String, Tensor>> fp32Outputs = List.of();
    int fullEvaluations;
    int rankingEvaluations;

    /**
     * @param search  validation indices for full evaluations and ranking
     * @param holdout validation indices kept out of the search, only to confirm the result (may be empty)
     */
    Judge(PipelineContext ctx, Model fp32, Metric metric, Dataset data, int[] search, int[] holdout) {
        this.ctx = ctx;
        this.fp32 = fp32;
        this.metric = metric;
        this.data = data;
        this.all = search;
        this.holdout = holdout;
    }

    /** Held-out samples. */
    int holdoutSize() { return holdout.length; }

    /** {@code model} (and FP32, the reference) on the held-out samples: {FP32, model}. */
    Evaluation[] confirm(Model model) {
        holdoutEvaluations++;
        return new Evaluation[]{ctx.evaluate(fp32, fp32, metric, data, holdout), ctx.evaluate(model, fp32, metric, data, holdout)};
    }

    int size() { return all.length; }

    /** Evaluates {@code model} on the whole validation set (counted). */
    Evaluation full(Model model) {
        fullEvaluations++;
        return ctx.evaluate(model, fp32, metric, data, all);
    }

    /** Evaluates FP32 itself on the whole validation set (not counted: it is the reference). */
    Evaluation fp32() { return ctx.evaluate(fp32, fp32, metric, data, all); }

    /** Loads the ranking subset (positions among the search samples, as in per-sample values) and the FP32 outputs on it. */
    void rankingSubset(int[] positions) {
        int[] indices = new int[positions.length];
        for (int i = 0; i < positions.length; i++) indices[i] = all[positions[i]];
        List<Batch> batches = new ArrayList<>();
        for (Batch b : ctx.batches(data, indices, ctx.batchSize())) batches.add(b);
        subset = batches;
        fp32Outputs = run(fp32, List.of());
    }

    /** Metric and output error of {@code model} on the ranking subset (one pass, counted). */
    Score score(Model model) {
        rankingEvaluations++;
        List<Map<String, Tensor>> outs = run(model, List.of());
        Metric.Accumulator acc = metric.newAccumulator();
        double num = 0, den = 0;
        for (int i = 0; i < subset.size(); i++) {
            Map<String, Tensor> ref = fp32Outputs.get(i);
            acc.update(graphOutputs(model, outs.get(i)), metric.needsReference() ? ref : null,
                    metric.needsAnnotations() ? subset.get(i).annotations() : null);
            for (ValueInfo v : fp32.graph().outputs()) {
                double[] e = sqErr(outs.get(i).get(v.name()), ref.get(v.name()));
                num += e[0];
                den += e[1];
            }
        }
        return new Score(acc.value(), num / Math.max(den, 1e-30));
    }

    /**
     * Each named layer's own output error in {@code quantized} vs FP32 on the ranking subset
     * (relative squared error of the layer's first output): the naive ranking signal.
     */
    Map<String, Double> layerErrors(Model quantized, List<String> layers) {
        rankingEvaluations++;
        List<String> qTensors = new ArrayList<>(), fTensors = new ArrayList<>();
        for (String l : layers) {
            qTensors.add(quantized.graph().node(l).map(n -> n.output(0)).orElseThrow());
            fTensors.add(fp32.graph().node(l).map(n -> n.output(0)).orElseThrow());
        }
        List<Map<String, Tensor>> q = run(quantized, qTensors), f = run(fp32, fTensors);
        Map<String, Double> err = new LinkedHashMap<>();
        for (int k = 0; k < layers.size(); k++) {
            double num = 0, den = 0;
            for (int i = 0; i < subset.size(); i++) {
                double[] e = sqErr(q.get(i).get(qTensors.get(k)), f.get(i).get(fTensors.get(k)));
                num += e[0];
                den += e[1];
            }
            err.put(layers.get(k), num / Math.max(den, 1e-30));
        }
        return err;
    }

    private List<Map<String, Tensor>> run(Model model, List<String> extra) {
        List<Map<String, Tensor>> out = new ArrayList<>();
        SessionOptions opts = SessionOptions.defaults().withThreads(ctx.threads()).withExtraOutputs(extra);
        try (Session s = ctx.engine().open(model, opts)) {
            for (Batch b : subset) out.add(s.run(b.inputs()));
        }
        return out;
    }

    private static Map<String, Tensor> graphOutputs(Model model, Map<String, Tensor> outs) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (ValueInfo v : model.graph().outputs()) if (outs.containsKey(v.name())) m.put(v.name(), outs.get(v.name()));
        return m;
    }

    /** {sum (a-b)^2, sum b^2} over float tensors; zeros when either is missing or not float. */
    private static double[] sqErr(Tensor a, Tensor b) {
        if (a == null || b == null || a.dtype() != DType.FLOAT || b.dtype() != DType.FLOAT) return new double[2];
        FloatBuffer x = a.floatView(), y = b.floatView();
        double num = 0, den = 0;
        for (int i = 0, n = Math.min(x.remaining(), y.remaining()); i < n; i++) {
            double d = x.get(i) - y.get(i);
            num += d * d;
            den += (double) y.get(i) * y.get(i);
        }
        return new double[]{num, den};
    }

}
