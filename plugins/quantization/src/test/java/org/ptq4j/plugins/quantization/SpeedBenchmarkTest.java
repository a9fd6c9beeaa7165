package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Batch;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Speed of the quantizer's output in ONNX Runtime (FP32 and INT8 timed interleaved in one run,
 * reported as ratios) and the cost of calibration relative to FP32 forward passes.
 * Not part of the default build: {@code ./mvnw -o test -pl plugins/quantization -Dgroups=benchmark -Dbench.excluded=none}.
 */
@Tag("benchmark")
class SpeedBenchmarkTest {

    /** Smooth pseudo-images / sequences: low-frequency waves plus a little noise, seeded. */
    static Tensor synthetic(long[] sampleShape, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int per = (int) Tensor.numElements(sampleShape);
        int last = (int) sampleShape[sampleShape.length - 1];
        float[] v = new float[n * per];
        for (int s = 0; s < n; s++) {
            double f1 = 0.02 + 0.1 * r.nextDouble(), f2 = 0.02 + 0.1 * r.nextDouble(), ph = 6.28 * r.nextDouble(), amp = 0.5 + r.nextDouble();
            for (int i = 0; i < per; i++) {
                int row = i / last, col = i % last;
                v[s * per + i] = (float) (amp * Math.sin(f1 * row + ph) * Math.cos(f2 * col) + 0.1 * r.nextGaussian());
            }
        }
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = n;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        return Tensor.ofFloats(shape, v);
    }

    /** Median ms per call of each model, FP32 and INT8 alternating in rounds. */
    static double[] latency(Model fp32, Model int8, Tensor input, int rounds, int callsPerRound) {
        Map<String, Tensor> feed = Map.of("x", input);
        try (Session a = Fixtures.ENGINE.open(fp32, SessionOptions.defaults().withThreads(1));
             Session b = Fixtures.ENGINE.open(int8, SessionOptions.defaults().withThreads(1))) {
            for (int i = 0; i < 3; i++) { a.run(feed); b.run(feed); }
            List<Double> ta = new ArrayList<>(), tb = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < callsPerRound; i++) { long t = System.nanoTime(); a.run(feed); ta.add((System.nanoTime() - t) / 1e6); }
                for (int i = 0; i < callsPerRound; i++) { long t = System.nanoTime(); b.run(feed); tb.add((System.nanoTime() - t) / 1e6); }
            }
            return new double[]{median(ta), median(tb)};
        }
    }

    static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a[a.length / 2];
    }

    private static Model quantize(Model fp32, Tensor calib, Map<String, Object> params) {
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("x", calib))) {
            return Fixtures.run(new MinMaxQuantization(), fp32, params, ctx);
        }
    }

    @Test
    void cnn112Batch1() throws Exception {
        Model fp32 = OnnxIO.read(TestAssets.model("speed_cnn112.onnx"));
        Model int8 = quantize(fp32, synthetic(new long[]{3, 112, 112}, 300, 1), Map.of());
        System.out.println("speed_cnn112 INT8 in ORT: " + Fixtures.optimizedOps(int8));
        double[] t = latency(fp32, int8, synthetic(new long[]{3, 112, 112}, 1, 7), 5, 20);
        System.out.printf("speed_cnn112 b1 1 thread: FP32 %.2f ms, INT8 %.2f ms, speed-up %.2fx%n", t[0], t[1], t[0] / t[1]);
        double[] t16 = latency(fp32, int8, synthetic(new long[]{3, 112, 112}, 16, 8), 3, 3);
        System.out.printf("speed_cnn112 b16 1 thread: FP32 %.1f ms, INT8 %.1f ms, speed-up %.2fx%n", t16[0], t16[1], t16[0] / t16[1]);
    }

    @Test
    void mlpBatch16() throws Exception {
        Model fp32 = OnnxIO.read(TestAssets.model("speed_mlp.onnx"));
        Model int8 = quantize(fp32, synthetic(new long[]{128, 512}, 100, 2), Map.of("stat_subset_size", 100));
        System.out.println("speed_mlp INT8 in ORT: " + Fixtures.optimizedOps(int8));
        double[] t = latency(fp32, int8, synthetic(new long[]{128, 512}, 16, 9), 3, 5);
        System.out.printf("speed_mlp b16 1 thread: FP32 %.1f ms, INT8 %.1f ms, speed-up %.2fx%n", t[0], t[1], t[0] / t[1]);
        double[] t1 = latency(fp32, int8, synthetic(new long[]{128, 512}, 1, 10), 5, 20);
        System.out.printf("speed_mlp b1 1 thread: FP32 %.2f ms, INT8 %.2f ms, speed-up %.2fx%n", t1[0], t1[1], t1[0] / t1[1]);
    }

    /**
     * The default target (ANY: saturation-safe weight grid) against full 8-bit weights (CPU_VNNI) and FP32:
     * the grid changes scales, not kernels, so the two INT8 models should run alike. Models interleaved per round.
     */
    @Test
    void targetsSideBySide() {
        System.out.println("CPU: " + org.ptq4j.spi.CpuInfo.host().describe());
        for (String name : List.of("speed_cnn112.onnx", "speed_mlp.onnx")) {
            boolean cnn = name.startsWith("speed_cnn");
            long[] sample = cnn ? new long[]{3, 112, 112} : new long[]{128, 512};
            Model fp32 = OnnxIO.read(TestAssets.model(name));
            Tensor calib = synthetic(sample, cnn ? 300 : 100, 1);
            Model any = quantize(fp32, calib, Map.of("stat_subset_size", cnn ? 300 : 100));
            Model vnni = quantize(fp32, calib, Map.of("stat_subset_size", cnn ? 300 : 100, "target_device", "CPU_VNNI"));
            int batch = cnn ? 1 : 16;
            Map<String, Tensor> feed = Map.of("x", synthetic(sample, batch, 7));
            List<Model> models = List.of(fp32, any, vnni);
            List<Session> sessions = new ArrayList<>();
            try {
                for (Model m : models) sessions.add(Fixtures.ENGINE.open(m, SessionOptions.defaults().withThreads(1)));
                for (int i = 0; i < 3; i++) for (Session s : sessions) s.run(feed);
                List<List<Double>> t = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
                for (int r = 0; r < (cnn ? 60 : 15); r++)
                    for (int k = 0; k < sessions.size(); k++) {
                        long t0 = System.nanoTime();
                        sessions.get(k).run(feed);
                        t.get(k).add((System.nanoTime() - t0) / 1e6);
                    }
                double f = median(t.get(0)), a = median(t.get(1)), v = median(t.get(2));
                System.out.printf("%s b%d 1 thread: FP32 %.2f ms, ANY (default) %.2f ms (%.2fx), CPU_VNNI %.2f ms (%.2fx)%n", name, batch, f, a, f / a, v, f / v);
            } finally {
                sessions.forEach(Session::close);
            }
        }
    }

    /** The MatMul -> Gemm rewrite ({@code matmul_to_gemm: true}) against plain MatMul QDQ on a MatMul+bias MLP. */
    @Test
    void mlpMatMulAsGemm() throws Exception {
        Model fp32 = OnnxIO.read(TestAssets.model("speed_mlp.onnx"));
        Tensor calib = synthetic(new long[]{128, 512}, 100, 2);
        Model plain = quantize(fp32, calib, Map.of("stat_subset_size", 100));
        Model gemm = quantize(fp32, calib, Map.of("stat_subset_size", 100, "matmul_to_gemm", true));
        System.out.println("speed_mlp plain INT8 in ORT: " + Fixtures.optimizedOps(plain));
        System.out.println("speed_mlp Gemm-rewritten INT8 in ORT: " + Fixtures.optimizedOps(gemm));
        for (int b : new int[]{1, 16}) {
            double[] t = latency(plain, gemm, synthetic(new long[]{128, 512}, b, 9), b == 1 ? 7 : 5, b == 1 ? 20 : 5);
            System.out.printf("speed_mlp b%d 1 thread: plain MatMul QDQ %.2f ms, Gemm rewrite %.2f ms, ratio %.3f%n", b, t[0], t[1], t[1] / t[0]);
        }
    }

    /** Calibration (one statistics pass, 300 samples) vs plain FP32 forward passes over the same batches. */
    @Test
    void calibrationCostCnn112() {
        Model fp32 = OnnxIO.read(TestAssets.model("speed_cnn112.onnx"));
        Fixtures.TensorDataset ds = new Fixtures.TensorDataset("x", synthetic(new long[]{3, 112, 112}, 300, 1));
        for (int threads : new int[]{1, 2}) {
            try (HostContext ctx = HostContext.builder().engine(Fixtures.ENGINE).dataset(PipelineContext.CALIBRATION, ds)
                    .threads(threads).batchSize(32).build()) {
                MinMaxQuantization mm = new MinMaxQuantization();
                Params dflt = ctx.params(mm, Map.of());
                Params quant = ctx.params(mm, Map.of("activations", Map.of("range_estimator", Map.of("preset", "quantile"))));
                Params hist = ctx.params(mm, Map.of("activations", Map.of("range_estimator", Map.of("preset", "histogram"))));
                List<StatisticRequest> rDefault = mm.statistics(fp32, dflt, ctx), rQuantile = mm.statistics(fp32, quant, ctx), rHist = mm.statistics(fp32, hist, ctx);
                int[] idx = ctx.subset(ds, 300, 0, false);
                double best = Double.MAX_VALUE, bestD = Double.MAX_VALUE, bestQ = Double.MAX_VALUE, bestH = Double.MAX_VALUE;
                for (int rep = 0; rep < 2; rep++) {
                    best = Math.min(best, forward(fp32, ctx, idx, threads));
                    long t = System.nanoTime();
                    ctx.collect(fp32, ds, idx, rDefault);
                    bestD = Math.min(bestD, (System.nanoTime() - t) / 1e9);
                    t = System.nanoTime();
                    ctx.collect(fp32, ds, idx, rQuantile);
                    bestQ = Math.min(bestQ, (System.nanoTime() - t) / 1e9);
                    t = System.nanoTime();
                    ctx.collect(fp32, ds, idx, rHist).get(rHist.get(0));     // results included: the clip search runs here
                    bestH = Math.min(bestH, (System.nanoTime() - t) / 1e9);
                }
                System.out.printf("calibration speed_cnn112, 300 samples, %d thread(s), %d tensors: FP32 forward %.2f s, "
                                + "default estimators %.2f s (%.2fx), quantile %.2f s (%.2fx), histogram %.2f s (%.2fx) [%s]%n", threads, rDefault.size(),
                        best, bestD, bestD / best, bestQ, bestQ / best, bestH, bestH / best, org.ptq4j.spi.CpuInfo.host().model());
            }
        }
    }

    private static double forward(Model m, HostContext ctx, int[] idx, int threads) {
        long t = System.nanoTime();
        try (Session s = Fixtures.ENGINE.open(m, SessionOptions.defaults().withThreads(threads))) {
            for (Batch b : ctx.batches(ctx.dataset(PipelineContext.CALIBRATION).orElseThrow(), idx, 32)) s.run(b.inputs());
        }
        return (System.nanoTime() - t) / 1e9;
    }

}
