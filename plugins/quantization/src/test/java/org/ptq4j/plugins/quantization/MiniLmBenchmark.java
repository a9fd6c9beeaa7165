package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.plugins.transformer.MiniLm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Benchmark (not a CI test): the static transformer recipe on all-MiniLM-L6-v2 against FP32, ONNX
 * Runtime's shipped dynamic model and the transformer plugin's DynamicQuantization. Calibration:
 * lines 0..299 of sentences-2k.txt; fidelity: mean-pooled embedding cosine vs FP32 over lines
 * 1000..1999; speed: 128 tokens, batch 1 and 16, one intra-op thread, the variants interleaved
 * round-robin in one run so that machine noise hits all alike.
 * <p>
 * Run: {@code ./mvnw -o test -pl plugins/quantization -Dgroups=benchmark -Dbench.excluded=none -Dtest=MiniLmBenchmark}
 * (system properties {@code bench.rounds}, default 7, and {@code bench.speedOnly}: no fidelity pass,
 * FP32 and the weaker static variants left out).
 */
@Tag("benchmark")
class MiniLmBenchmark {
    static final String SHIPPED = "ORT dynamic (shipped -q)";

    @Test
    void fidelityAndSpeed() throws Exception {
        int rounds = Integer.getInteger("bench.rounds", 7);
        boolean speedOnly = Boolean.getBoolean("bench.speedOnly");
        Model fp32 = MiniLm.fp32();
        Dataset calib = MiniLm.text(fp32, 0, 300, 128, "longest");
        Dataset eval = MiniLm.text(fp32, 1000, 1000, 128, "longest");
        Dataset speed = MiniLm.text(fp32, 1000, 16, 128, "max_length");
        HostContext ctx = MiniLm.context(calib, 2, 16);
        Map<String, Model> models = new LinkedHashMap<>();
        if (!speedOnly) models.put("FP32", fp32);
        models.put(SHIPPED, MiniLm.shippedDynamic());
        models.put("DynamicQuantization (transformer plugin)", MiniLm.run(ctx, "DynamicQuantization", fp32, calib, Map.of()));
        models.put("static transformer (mixed, default)", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib, Map.of("model_type", "transformer")));
        models.put("static transformer, erf GELU (approximate_gelu: false)", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib,
                Map.of("model_type", "transformer", "approximate_gelu", false)));
        models.put("static transformer, float attention (activation_matmul: false)", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib,
                Map.of("model_type", "transformer", "activation_matmul", false)));
        if (!speedOnly) models.put("static transformer, performance preset", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib, Map.of("model_type", "transformer", "preset", "performance")));
        if (!speedOnly) models.put("static transformer, quantile 1e-4", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib,
                Map.of("model_type", "transformer", "activations", Map.of("range_estimator", Map.of("preset", "quantile")))));
        if (!speedOnly) models.put("static generic (MatMulIntegerToFloat + float bias)", MiniLm.run(ctx, DefaultQuantization.SECTION, fp32, calib,
                Map.of("preset", "mixed", "fast_bias_correction", false)));

        Map<String, Double> cos = new LinkedHashMap<>();
        Map<String, Long> size = new LinkedHashMap<>();
        Metric metric = MiniLm.cosine(fp32);
        int[] all = ctx.subset(eval, eval.size(), 0, false);
        for (var e : models.entrySet()) {
            if (!speedOnly) cos.put(e.getKey(), e.getValue() == fp32 ? 1.0 : ctx.evaluate(e.getValue(), fp32, metric, eval, all).value());
            size.put(e.getKey(), (long) OnnxIO.toBytes(e.getValue()).length);
        }
        System.out.printf("cosine vs FP32 over %d lines (1000..1999)%n", all.length);
        MiniLm.printSpeed(models, speed, rounds, SHIPPED, cos, size);
        eval.close(); speed.close(); calib.close(); ctx.close();
    }
}
