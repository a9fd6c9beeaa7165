package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
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
        Metric metric = MiniLm.cosine(ctx, fp32);
        int[] all = ctx.subset(eval, eval.size(), 0, false);
        for (var e : models.entrySet()) {
            if (!speedOnly) cos.put(e.getKey(), e.getValue() == fp32 ? 1.0 : ctx.evaluate(e.getValue(), fp32, metric, eval, all).value());
            size.put(e.getKey(), (long) OnnxIO.toBytes(e.getValue()).length);
        }
        for (int batch : new int[]{1, 16}) {
            Map<String, Tensor> feeds = feeds(speed, batch);
            int iters = batch == 1 ? 8 : 1;
            OrtEngine engine = new OrtEngine();
            Map<String, Session> sessions = new LinkedHashMap<>();
            for (var e : models.entrySet()) sessions.put(e.getKey(), engine.open(e.getValue(), SessionOptions.defaults().withThreads(1)));
            Map<String, double[]> ms = new LinkedHashMap<>();
            for (String k : sessions.keySet()) { ms.put(k, new double[rounds]); for (int w = 0; w < 3; w++) sessions.get(k).run(feeds); }
            for (int r = 0; r < rounds; r++)
                for (var e : sessions.entrySet()) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) e.getValue().run(feeds);
                    ms.get(e.getKey())[r] = (System.nanoTime() - t0) / 1e6 / iters;
                }
            double ref = median(ms.get(SHIPPED)), refBest = Arrays.stream(ms.get(SHIPPED)).min().orElseThrow();
            System.out.printf("%nMiniLM batch %d, 128 tokens, 1 thread, %d interleaved rounds; cosine vs FP32 over %d lines (1000..1999)%n", batch, rounds, all.length);
            System.out.printf("%-66s %9s %9s %9s %9s %12s %10s %8s%n", "model", "median ms", "vs -q", "best ms", "vs -q", "faster than", "cosine", "MB");
            for (String k : sessions.keySet()) {
                double m = median(ms.get(k)), best = Arrays.stream(ms.get(k)).min().orElseThrow();
                int wins = 0;                       // paired: the same round, back to back
                for (int r = 0; r < rounds; r++) if (ms.get(k)[r] < ms.get(SHIPPED)[r]) wins++;
                System.out.printf("%-66s %9.2f %8.3fx %9.2f %8.3fx %6d/%-2d rds %10.5f %8.1f%n", k, m, m / ref, best, best / refBest,
                        wins, rounds, cos.getOrDefault(k, Double.NaN), size.get(k) / 1e6);
            }
            sessions.values().forEach(Session::close);
        }
        eval.close(); speed.close(); calib.close(); ctx.close();
    }

    static Map<String, Tensor> feeds(Dataset ds, int batch) {
        Map<String, Tensor> f = new LinkedHashMap<>();
        for (String k : ds.get(0).inputs().keySet()) {
            List<Tensor> rows = new ArrayList<>();
            for (int i = 0; i < batch; i++) rows.add(ds.get(i).inputs().get(k));
            f.put(k, Tensor.stack(rows));
        }
        return f;
    }

    static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
