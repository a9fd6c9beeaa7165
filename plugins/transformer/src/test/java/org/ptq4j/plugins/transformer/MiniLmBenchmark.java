package org.ptq4j.plugins.transformer;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.metric.MetricContext;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Benchmark (not a test): all-MiniLM-L6-v2 FP32 vs ONNX Runtime's shipped dynamic model vs ptq4j's
 * DynamicQuantization variants. Fidelity: mean-pooled embedding cosine vs FP32 over lines
 * 1001..2000 of sentences-2k.txt. Speed: ONNX Runtime, 1 intra-op thread, 128 tokens, batch 1 and
 * 16, the variants interleaved round-robin in one run so that machine noise hits all alike.
 * <p>
 * Run: {@code ./mvnw -q -o test-compile -pl plugins/transformer} then
 * {@code java -cp <test classpath> org.ptq4j.plugins.transformer.MiniLmBenchmark [rounds] [speed]}
 * ({@code speed}: skip the fidelity pass and the per-tensor variant).
 */
public final class MiniLmBenchmark {
    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        boolean speedOnly = args.length > 1 && args[1].equals("speed");
        Model fp32 = MiniLm.fp32();
        // fidelity: padding to the longest line (pooling ignores pads; 3x less work than 128 tokens)
        Dataset eval = MiniLm.text(fp32, 1000, 1000, 128, "longest");
        Dataset speed = MiniLm.text(fp32, 1000, 16, 128, "max_length");
        HostContext ctx = MiniLm.context(eval, 2, 16);
        Map<String, Model> models = new LinkedHashMap<>();
        models.put("FP32", fp32);
        models.put("ORT dynamic (shipped -q)", MiniLm.shippedDynamic());
        models.put("DynamicQuantization per-channel integer_ops", dyn(ctx, fp32, Map.of()));
        models.put("DynamicQuantization per-channel contrib", dyn(ctx, fp32, Map.of("format", "contrib")));
        if (!speedOnly) models.put("DynamicQuantization per-tensor integer_ops", dyn(ctx, fp32, Map.of("per_channel", false)));

        Metric metric = MiniLm.cosine(fp32);
        int[] all = ctx.subset(eval, eval.size(), 0, false);
        Map<String, Double> cos = new LinkedHashMap<>();
        for (var e : models.entrySet()) if (e.getValue() != fp32 && !speedOnly) cos.put(e.getKey(), ctx.evaluate(e.getValue(), fp32, metric, eval, all).value());
        cos.put("FP32", 1.0);
        MiniLm.printSpeed(models, speed, rounds, "ORT dynamic (shipped -q)", cos, Map.of());
        eval.close();
        speed.close();
        ctx.close();
    }

    static Model dyn(HostContext ctx, Model m, Map<String, Object> params) {
        Algorithm a = ctx.algorithm(DynamicQuantization.NAME).orElseThrow();
        return a.apply(m, ctx.params(a, params), Statistics.EMPTY, ctx);
    }
}
