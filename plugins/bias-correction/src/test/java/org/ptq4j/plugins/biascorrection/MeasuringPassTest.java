package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.MeanSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ptq4j.plugins.biascorrection.Fixtures.*;

/** The measuring passes against plain collection of the same tensors, and the statistic the FP32 side is read with. */
class MeasuringPassTest {
    /** On resnet (Conv), and on the MLPs (Gemm biases behind DequantizeLinear; MatMul + float bias Add). */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx"})
    void measuredLayerInputMeansAreExactAndTheLayersKeepTheirIntegerKernels(String file) {
        Run r = quantizeAndCorrect(file, BiasCorrectionTest.PER_TENSOR, FastBiasCorrection.NAME, Map.of("estimator", "nncf"));
        HostContext ctx = r.ctx();
        Dataset ds = ctx.dataset("calibration").orElseThrow();
        int[] head = Arrays.copyOf(ctx.subset(ds, ds.size(), 0, false), 40);
        Model work = r.quantized().copy();
        List<QuantizedLayer> layers = BiasCorrectionBase.layers(work, r.fp32(), false);
        Statistics fp = ctx.collect(r.fp32(), ds, head, MeanModel.fp32Requests(r.fp32().graph(), layers.stream().map(QuantizedLayer::layer).toList(), 40));
        MeasuringPass pass = new MeasuringPass(work.graph(), layers, new MeanModel(work.graph(), r.fp32().graph(), layers, fp, 40).inputShapes());

        // the taps read the 8-bit tensors the fused kernels read: ONNX Runtime fuses as many integer kernels as in the
        // quantized model up to the last layer input (the measuring model ends there)
        Model typed = work.copy();
        List<String> read = layers.stream().map(l -> typed.graph().producer(l.node().input(0)).input(0)).distinct().toList();
        for (String t : read) typed.graph().valueInfos().put(t, new org.ptq4j.spi.model.ValueInfo(t, org.ptq4j.spi.tensor.DType.UINT8, null));
        long expected = fusedIntegerOps(SubModels.prefix(typed, read), ctx);
        assertEquals(expected, fusedIntegerOps(pass.tappedModel(work), ctx), "integer kernels in the measuring model");
        assertEquals(fusedIntegerOps(work, ctx) - 1, expected, "all but the last layer (after the last layer input)");

        try (MeasuringPass pass2 = pass; MeasuringPass full = new MeasuringPass(work.graph(), layers,
                new MeanModel(work.graph(), r.fp32().graph(), layers, fp, 40).inputShapes())) {
            Map<String, Tensor> first = pass.first(work, ds, head, 10, ctx);
            assertMatchesDirect(first, work, ds, head, layers, ctx);
            // a later pass over all the first pass's samples is a plain measurement of the corrected model, made in the
            // first pass's session with the corrected biases fed to it: every layer's bias, not just the stem's, moves
            assertLaterPassMeasuresTheCorrectedModel(full, work, ds, head, layers, 0.05f, ctx);
            // over fewer: the first pass's means moved by the change on those
            Map<String, Tensor> partial = pass.again(work, ds, ctx);
            String down1 = layers.get(1).node().input(0);
            Tensor direct = (Tensor) ctx.collect(work, ds, head, List.of(new StatisticRequest(down1, MeanSpec.overSamples()))).get(down1, MeanSpec.overSamples());
            assertEquals(Means.meanAbs(direct.floats()), Means.meanAbs(partial.get(down1).floats()), 0.02 * Means.meanAbs(direct.floats()));
        }
    }

    /**
     * Depthwise and grouped convolutions take other integer kernels in ONNX Runtime: a later pass fed
     * every layer's corrected bias still measures exactly what the corrected model computes, with
     * per-tensor and per-channel weights.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"pertensor", "perchannel"})
    void laterPassesMatchTheCorrectedModelOnDepthwiseAndGroupedConvs(String granularity) {
        SplittableRandom rnd = new SplittableRandom(11);
        org.ptq4j.spi.model.Graph g = new org.ptq4j.spi.model.Graph("dw");
        g.inputs().add(new org.ptq4j.spi.model.ValueInfo("input", org.ptq4j.spi.tensor.DType.FLOAT, List.of(
                org.ptq4j.spi.model.Dim.named("batch"), org.ptq4j.spi.model.Dim.of(4), org.ptq4j.spi.model.Dim.of(12), org.ptq4j.spi.model.Dim.of(12))));
        String x = "input";
        int[][] convs = {{4, 8, 3, 1}, {8, 8, 3, 8}, {8, 8, 1, 2}, {8, 4, 3, 1}}; // in, out, kernel, groups
        for (int i = 0; i < convs.length; i++) {
            int cin = convs[i][0], cout = convs[i][1], k = convs[i][2], groups = convs[i][3];
            float[] w = new float[cout * (cin / groups) * k * k], b = new float[cout];
            for (int j = 0; j < w.length; j++) w[j] = (float) rnd.nextDouble(-0.6, 0.6);
            for (int j = 0; j < b.length; j++) b[j] = (float) rnd.nextDouble(-0.2, 0.3);
            g.initializers().put("w" + i, Tensor.ofFloats(new long[]{cout, cin / groups, k, k}, w));
            g.initializers().put("b" + i, Tensor.ofFloats(new long[]{cout}, b));
            g.addNode(org.ptq4j.spi.model.Node.of("conv" + i, "Conv", List.of(x, "w" + i, "b" + i), List.of("c" + i))
                    .set(org.ptq4j.spi.model.Attribute.ints("kernel_shape", List.of((long) k, (long) k)))
                    .set(org.ptq4j.spi.model.Attribute.ints("pads", List.of((long) k / 2, (long) k / 2, (long) k / 2, (long) k / 2)))
                    .set(org.ptq4j.spi.model.Attribute.of("group", (long) groups)));
            x = "c" + i;
            if (i < convs.length - 1) {
                g.addNode(org.ptq4j.spi.model.Node.of("relu" + i, "Relu", List.of(x), List.of("r" + i)));
                x = "r" + i;
            }
        }
        g.outputs().add(new org.ptq4j.spi.model.ValueInfo(x, org.ptq4j.spi.tensor.DType.FLOAT, null));
        Model fp32 = new Model(g, Map.of("", 13L), 7);
        float[] data = new float[48 * 4 * 12 * 12];
        for (int i = 0; i < data.length; i++) data[i] = (float) rnd.nextDouble(-1, 1.5);
        HostContext ctx = context(Tensor.ofFloats(new long[]{48, 4, 12, 12}, data));
        Dataset ds = ctx.dataset("calibration").orElseThrow();
        var mm = ctx.algorithm("MinMaxQuantization").orElseThrow();
        var mp = ctx.params(mm, Map.of("weights", Map.of("granularity", granularity)));
        int[] all = ctx.subset(ds, ds.size(), 0, false);
        Model work = mm.apply(fp32, mp, ctx.collect(fp32, ds, all, mm.statistics(fp32, mp, ctx)), ctx).copy();
        List<QuantizedLayer> layers = BiasCorrectionBase.layers(work, fp32, false);
        assertEquals(4, layers.size());
        assertEquals(4, fusedIntegerOps(work, ctx), "the four convs run as integer kernels");
        int[] head = Arrays.copyOf(all, 16);
        Statistics fp = ctx.collect(fp32, ds, head, MeanModel.fp32Requests(fp32.graph(), layers.stream().map(QuantizedLayer::layer).toList(), 16));
        try (MeasuringPass pass = new MeasuringPass(work.graph(), layers, new MeanModel(work.graph(), fp32.graph(), layers, fp, 16).inputShapes())) {
            assertLaterPassMeasuresTheCorrectedModel(pass, work, ds, head, layers, 0.1f, ctx);
        }
    }

    /**
     * A first pass over {@code head}, then every layer's bias moved by -step, 0, +step (by channel) and a
     * later pass over all of {@code head}: in the first pass's session, and exactly what a plain
     * measurement of the corrected model gives.
     */
    private static void assertLaterPassMeasuresTheCorrectedModel(MeasuringPass pass, Model work, Dataset ds, int[] head,
                                                                 List<QuantizedLayer> layers, float step, HostContext ctx) {
        assertMatchesDirect(pass.first(work, ds, head, head.length, ctx), work, ds, head, layers, ctx);
        for (QuantizedLayer l : layers) {
            float[] shift = new float[l.bias(work.graph()).length];
            for (int c = 0; c < shift.length; c++) shift[c] = (c % 3 - 1) * step;
            QuantizedLayer.find(l.layer(), work.graph()).shiftOutput(work, shift);
        }
        Map<String, Tensor> again = pass.again(work, ds, ctx);
        assertTrue(pass.reusesSession(), "the later pass opened a session of its own");
        assertMatchesDirect(again, work, ds, head, layers, ctx);
    }

    private static void assertMatchesDirect(Map<String, Tensor> measured, Model m, Dataset ds, int[] idx, List<QuantizedLayer> layers, HostContext ctx) {
        for (QuantizedLayer l : layers) {
            String x = l.node().input(0);
            Tensor direct = (Tensor) ctx.collect(m, ds, idx, List.of(new StatisticRequest(x, MeanSpec.overSamples()))).get(x, MeanSpec.overSamples());
            assertArrayEquals(direct.shape(), measured.get(x).shape(), x);
            assertArrayEquals(direct.floats(), measured.get(x).floats(), 1e-5f, x);
        }
    }

    @Test
    void firstSamplesMeanSeesOnlyTheFirstSamplesAcrossBatches() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 12, c = 3, hw = 4;
        float[] v = new float[n * c * hw];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextDouble(-1, 1);
        Tensor all = Tensor.ofFloats(new long[]{n, c, 2, 2}, v);
        var collector = new FirstSamplesMeanSpec(6, -1).create();
        collector.update(all.slice0(0, 3));
        collector.update(all.slice0(3, 8));
        collector.update(all.slice0(8, 12));
        var means = (FirstSamplesMeanSpec.Means) collector.result();
        assertEquals(6, means.count());
        float[] expected = new float[c * hw];
        for (int s = 0; s < 6; s++) for (int j = 0; j < expected.length; j++) expected[j] += v[s * c * hw + j] / 6;
        assertArrayEquals(expected, means.mean().floats(), 1e-6f);
        assertArrayEquals(new long[]{1, c, 2, 2}, means.mean().shape());
        // the share of positive values per channel, over the first samples it saw (6 of the 8 it may count)
        for (int ch = 0; ch < c; ch++) {
            int pos = 0;
            for (int s = 0; s < 6; s++) for (int k = 0; k < hw; k++) if (v[s * c * hw + ch * hw + k] > 0) pos++;
            assertEquals(pos / (6.0 * hw), means.positive()[ch], 1e-6, "channel " + ch);
        }
        // per feature of a sequence: each sample averaged over its positions first
        var seq = new FirstSamplesMeanSpec(2, 2).create();
        seq.update(Tensor.ofFloats(new long[]{1, 2, 2}, new float[]{1, 2, 3, 4}));
        seq.update(Tensor.ofFloats(new long[]{1, 4, 2}, new float[]{0, 0, 0, 0, 0, 0, 8, 8}));
        seq.update(Tensor.ofFloats(new long[]{1, 1, 2}, new float[]{100, 100}));
        var sm = (FirstSamplesMeanSpec.Means) seq.result();
        assertArrayEquals(new float[]{(2 + 2) / 2f, (3 + 2) / 2f}, sm.mean().floats(), 1e-6f);
        assertArrayEquals(new long[]{1, 1, 2}, sm.mean().shape());
    }
}
