package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ptq4j.plugins.biascorrection.Fixtures.*;

/**
 * Benchmark (not part of the default test run: the class name does not match surefire's patterns).
 * Run: {@code ./mvnw -o test -pl plugins/bias-correction -Dtest=FastBiasCorrectionBenchmark -Dsurefire.failIfNoSpecifiedTests=false}.
 * <p>
 * Wall time of MinMaxQuantization alone (its statistics pass + apply) against MinMax followed by
 * FastBiasCorrection with the statistics of both collected in the same pass, as DefaultQuantization
 * runs them; runs alternate ({@code bench.warmup}, default 5, then {@code bench.reps}, default 11),
 * medians compared; the spread of the paired ratios is printed too. The default estimator must stay
 * under 1.5x on fmnist_resnet with its 300 calibration rows (a tiny model: the cost of opening the
 * measuring session weighs most there) and on speed_cnn112 with 32 images (as many as the measuring
 * pass reads: its worst case) and 128 images. NNCF's estimator is printed for comparison, and with
 * {@code -Dbench.full=true} also the final waves and the full BiasCorrection.
 */
class FastBiasCorrectionBenchmark {
    static final int REPS = Integer.getInteger("bench.reps", 11), WARMUP = Integer.getInteger("bench.warmup", 5);

    @Test
    void extraCostOfFastBiasCorrectionOverMinMax() {
        double resnet = ratio("fmnist_resnet.onnx", CALIB, FastBiasCorrection.NAME, Map.of());
        double cnn112 = ratio("speed_cnn112.onnx", smoothImages(32, 3, 112), FastBiasCorrection.NAME, Map.of());
        double cnn112x128 = ratio("speed_cnn112.onnx", smoothImages(128, 3, 112), FastBiasCorrection.NAME, Map.of());
        // for comparison, not bounded
        ratio("fmnist_resnet.onnx", CALIB, FastBiasCorrection.NAME, Map.of("estimator", "nncf"));
        ratio("speed_cnn112.onnx", smoothImages(32, 3, 112), FastBiasCorrection.NAME, Map.of("estimator", "nncf"));
        if (Boolean.getBoolean("bench.full")) {
            ratio("fmnist_resnet.onnx", CALIB, FastBiasCorrection.NAME, Map.of("final_waves", 3));
            ratio("speed_cnn112.onnx", smoothImages(32, 3, 112), FastBiasCorrection.NAME, Map.of("final_waves", 3));
            ratio("fmnist_resnet.onnx", CALIB, BiasCorrection.NAME, Map.of());
            ratio("speed_cnn112.onnx", smoothImages(32, 3, 112), BiasCorrection.NAME, Map.of());
        }
        assertTrue(resnet < 1.5 && cnn112 < 1.5 && cnn112x128 < 1.5,
                "MinMax+FastBiasCorrection / MinMax: resnet " + resnet + ", cnn112 " + cnn112 + ", cnn112 x128 " + cnn112x128);
    }

    static double ratio(String file, Tensor calibration, String correction, Map<String, Object> params) {
        Model fp32 = model(file);
        String input = fp32.graph().feedInputs().get(0).name();
        HostContext ctx = HostContext.builder().engine(ENGINE).registry(org.ptq4j.host.plugins.Registry.fromClasspath())
                .dataset("calibration", new Named(new TensorDataset(calibration), input)).threads(1).batchSize(32).build();
        Algorithm mm = ctx.algorithm("MinMaxQuantization").orElseThrow(), fbc = ctx.algorithm(correction).orElseThrow();
        Params mp = ctx.params(mm, Map.of()), fp = ctx.params(fbc, params);
        Dataset ds = ctx.dataset("calibration").orElseThrow();
        int[] idx = ctx.subset(ds, ds.size(), 0, false);
        Runnable minmax = () -> mm.apply(fp32, mp, ctx.collect(fp32, ds, idx, mm.statistics(fp32, mp, ctx)), ctx);
        Runnable both = () -> {
            LinkedHashSet<StatisticRequest> req = new LinkedHashSet<>(mm.statistics(fp32, mp, ctx));
            req.addAll(fbc.statistics(fp32, fp, ctx));
            var st = ctx.collect(fp32, ds, idx, new ArrayList<>(req));
            fbc.apply(mm.apply(fp32, mp, st, ctx), fp, st, ctx);
        };
        for (int w = 0; w < WARMUP; w++) { minmax.run(); both.run(); }
        long[] a = new long[REPS], b = new long[REPS], ca = new long[REPS], cb = new long[REPS];
        for (int i = 0; i < REPS; i++) {
            long[] t = time(minmax);
            a[i] = t[0];
            ca[i] = t[1];
            t = time(both);
            b[i] = t[0];
            cb[i] = t[1];
        }
        double ma = median(a) / 1e6, mb = median(b) / 1e6;
        double[] paired = new double[REPS];
        for (int i = 0; i < REPS; i++) paired[i] = (double) b[i] / a[i];
        Arrays.sort(paired);
        System.out.printf("BENCH %s (%d samples, 1 thread): MinMax %.1f ms, MinMax+%s%s %.1f ms, ratio %.3f (paired runs %.2f-%.2f); "
                        + "process CPU time ratio %.3f%n",
                file, idx.length, ma, correction, params.isEmpty() ? "" : " " + params, mb, mb / ma, paired[0], paired[REPS - 1],
                median(cb) / median(ca));
        return mb / ma;
    }

    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** Wall time and the CPU time of the whole process (every thread: ONNX Runtime, decoding, GC) of one run. */
    static long[] time(Runnable r) {
        long t = System.nanoTime(), c = OS.getProcessCpuTime();
        r.run();
        return new long[]{System.nanoTime() - t, OS.getProcessCpuTime() - c};
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** Smooth random images [n, c, hw, hw] (sums of a few random sinusoids), for the random-weight speed model. */
    static Tensor smoothImages(int n, int c, int hw) {
        SplittableRandom r = new SplittableRandom(7);
        float[] v = new float[n * c * hw * hw];
        int p = 0;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++) {
                double fx = r.nextDouble(0.02, 0.2), fy = r.nextDouble(0.02, 0.2), ph = r.nextDouble(6.28);
                for (int y = 0; y < hw; y++) for (int x = 0; x < hw; x++) v[p++] = (float) Math.sin(fx * x + fy * y + ph);
            }
        return Tensor.ofFloats(new long[]{n, c, hw, hw}, v);
    }

    /** A dataset whose single input has another name than {@code input}. */
    record Named(TensorDataset inner, String name) implements Dataset {
        @Override public int size() { return inner.size(); }
        @Override public org.ptq4j.spi.data.Sample get(int i) {
            var s = inner.get(i);
            return new org.ptq4j.spi.data.Sample(i, s.id(), Map.of(name, s.inputs().get("input")), null);
        }
    }

}
