package org.ptq4j.plugins.biascorrection;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/** Shared test helpers: real models, real data, the real quantizer and engine. */
final class Fixtures {
    private Fixtures() {}

    static final OrtEngine ENGINE = new OrtEngine();
    static final Tensor CALIB = TestAssets.npy("fmnist-calib-300.npy");
    static final Tensor TEST_1K = TestAssets.npy("fmnist-test-1k.npy");

    /** Rows of an [N, ...] tensor as a dataset feeding model input {@code input}. */
    record TensorDataset(Tensor data, long[] labels) implements Dataset {
        TensorDataset(Tensor data) { this(data, null); }
        @Override public int size() { return (int) data.dim(0); }
        @Override public Sample get(int i) {
            long[] s = data.shape();
            long[] row = java.util.Arrays.copyOfRange(s, 1, s.length);
            Tensor t = data.slice0(i, i + 1).reshape(row);
            return new Sample(i, "row " + i, Map.of("input", t), labels == null ? null : Tensor.ofLongs(new long[0], new long[]{labels[i]}));
        }
        @Override public boolean annotated() { return labels != null; }
    }

    static HostContext context(Tensor calibration) {
        return HostContext.builder().engine(ENGINE).registry(Registry.fromClasspath())
                .dataset(PipelineContext.CALIBRATION, new TensorDataset(calibration)).threads(1).batchSize(50).build();
    }

    static Model model(String file) { return OnnxIO.read(TestAssets.model(file)); }

    /** The 10k test split, normalised as the models expect. */
    static Tensor test10k() {
        float[] px = TestAssets.npy("fmnist-test-10k-u8.npy").floats();
        for (int i = 0; i < px.length; i++) px[i] = (px[i] / 255f - 0.2860f) / 0.3530f;
        return Tensor.ofFloats(new long[]{10000, 1, 28, 28}, px);
    }

    static long[] labels10k() { return TestAssets.npy("fmnist-test-10k-labels.npy").longs(); }

    /** A quantized model and the same model after a bias-correction step, both from one calibration pass. */
    record Run(Model fp32, Model quantized, Model corrected, HostContext ctx) {}

    /**
     * Runs MinMaxQuantization with {@code minmaxParams}, collecting its statistics and
     * {@code correction}'s in one pass (as DefaultQuantization does), then the correction.
     */
    static Run quantizeAndCorrect(String file, Map<String, Object> minmaxParams, String correction, Map<String, Object> bcParams) {
        HostContext ctx = context(CALIB);
        Model fp32 = model(file);
        Algorithm mm = ctx.algorithm("MinMaxQuantization").orElseThrow();
        Algorithm bc = ctx.algorithm(correction).orElseThrow();
        Params mp = ctx.params(mm, minmaxParams), bp = ctx.params(bc, bcParams);
        LinkedHashSet<StatisticRequest> req = new LinkedHashSet<>(mm.statistics(fp32, mp, ctx));
        req.addAll(bc.statistics(fp32, bp, ctx));
        Dataset calib = ctx.dataset(PipelineContext.CALIBRATION).orElseThrow();
        Statistics st = ctx.collect(fp32, calib, ctx.subset(calib, 300, 0, false), new ArrayList<>(req));
        Model q = mm.apply(fp32, mp, st, ctx);
        Model c = bc.apply(q, bp, st, ctx);
        return new Run(fp32, q, c, ctx);
    }

    /** Integer ops (QLinearConv, QGemm, ...) in the graph ONNX Runtime actually runs for {@code m}. */
    static long fusedIntegerOps(Model m, HostContext ctx) {
        java.nio.file.Path dump = ctx.workDir().resolve("optimized-" + System.nanoTime() + ".onnx");
        ENGINE.open(m, org.ptq4j.spi.engine.SessionOptions.defaults().withThreads(1).withOptimizedModelPath(dump)).close();
        return OnnxIO.read(dump).graph().nodes().stream().filter(n -> n.opType().startsWith("QLinear") || n.opType().equals("QGemm")
                || n.opType().equals("MatMulIntegerToFloat")).count();
    }

    /** Top-1 class of every row of {@code data}. */
    static int[] top1(Model m, Tensor data) {
        int n = (int) data.dim(0);
        int[] out = new int[n];
        try (Session s = ENGINE.open(m)) {
            String in = s.inputs().get(0).name(), o = s.outputs().get(0).name();
            for (int b = 0; b < n; b += 500) {
                int e = Math.min(n, b + 500);
                float[] logits = s.run(Map.of(in, data.slice0(b, e))).get(o).floats();
                int k = logits.length / (e - b);
                for (int i = 0; i < e - b; i++) {
                    int best = 0;
                    for (int j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
                    out[b + i] = best;
                }
            }
        }
        return out;
    }

    static double agreement(int[] a, int[] b) {
        int same = 0;
        for (int i = 0; i < a.length; i++) if (a[i] == b[i]) same++;
        return (double) same / a.length;
    }

    static double accuracy(int[] pred, long[] labels) {
        int ok = 0;
        for (int i = 0; i < pred.length; i++) if (pred[i] == labels[i]) ok++;
        return (double) ok / pred.length;
    }

    /**
     * Mean over {@code layers} of the mean over channels of |mean(y_model)[c] - mean(y_fp32)[c]|,
     * measured on {@code data}: how far each layer's per-channel output mean is from FP32's.
     */
    static double meanAbsShift(Run r, Model m, List<Layer> layers, Tensor data) {
        HostContext ctx = r.ctx();
        TensorDataset ds = new TensorDataset(data);
        int[] idx = ctx.subset(ds, ds.size(), 0, false);
        List<StatisticRequest> fpReq = new ArrayList<>(), mReq = new ArrayList<>();
        List<String> mNames = new ArrayList<>();
        for (Layer l : layers) {
            String name = QuantizedLayer.find(l, m.graph()).output();
            mNames.add(name);
            fpReq.add(new StatisticRequest(l.output(), l.outputSpec()));
            mReq.add(new StatisticRequest(name, l.outputSpec()));
        }
        Statistics fs = ctx.collect(r.fp32(), ds, idx, fpReq), ms = ctx.collect(m, ds, idx, mReq);
        double total = 0;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            float[] f = Means.of(fs.get(l.output(), l.outputSpec()), l.outAxis());
            float[] q = Means.of(ms.get(mNames.get(i), l.outputSpec()), l.outAxis());
            total += Means.meanAbs(Means.minus(q, f));
        }
        return total / layers.size();
    }
}
