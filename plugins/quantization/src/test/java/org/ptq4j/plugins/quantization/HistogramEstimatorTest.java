package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.stats.Collector;
import org.ptq4j.spi.stats.HistogramSpec;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The histogram activation estimator: mergeable, bounded, clipping outliers where min/max cannot. */
class HistogramEstimatorTest {
    /** Heavy-tailed non-negative values (exponential, mean 1): the long tail is where an L2-optimal clip cuts. */
    private static Tensor exponential(int samples, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[samples * 1000];
        for (int i = 0; i < v.length; i++) v[i] = (float) -Math.log(1 - r.nextDouble());
        return Tensor.ofFloats(new long[]{samples, 1000}, v);
    }

    @Test
    void clipsTheTailAndShardsMergeExactly() throws Exception {
        HistogramSpec spec = new HistogramSpec(2048, 255, true);
        Tensor all = exponential(300, 1);
        float max = 0;
        for (float f : all.floats()) max = Math.max(max, f);
        Collector one = spec.create();
        one.update(all);
        Range r = (Range) one.result();
        System.out.println("exponential(1), 300k values, max " + max + ": histogram range " + r);
        assertEquals(0f, r.min());
        assertTrue(r.max() > 0.4 * max && r.max() < 0.95 * max, "the tail is clipped: " + r + " vs max " + max);
        Collector a = spec.create(), b = spec.create();
        a.update(all.slice0(0, 100));
        b.update(all.slice0(100, 300).slice0(0, 200));
        a.merge(b);
        assertEquals(r, a.result(), "two shards merged give the same range");
        // bounded state: 10x the samples, the same serialized size
        Collector big = spec.create();
        for (int k = 0; k < 10; k++) big.update(exponential(300, 10 + k));
        assertEquals(size(one), size(big), "state does not grow with samples");
        // signed, symmetric and asymmetric grids
        float[] s = new float[20000];
        SplittableRandom rr = new SplittableRandom(3);
        for (int i = 0; i < s.length; i++) s[i] = (float) rr.nextGaussian();
        s[0] = -50f;
        Collector sym = new HistogramSpec(2048, 255, true).create(), asym = new HistogramSpec(2048, 255, false).create();
        sym.update(Tensor.ofFloats(new long[]{20, 1000}, s));
        asym.update(Tensor.ofFloats(new long[]{20, 1000}, s));
        Range rs = (Range) sym.result(), ra = (Range) asym.result();
        System.out.println("N(0,1), 20k values, one at -50: symmetric " + rs + ", asymmetric " + ra);
        assertEquals(-rs.min(), rs.max(), 1e-6);
        assertTrue(rs.max() < 50 && ra.max() > 2.5 && ra.max() < 5, rs + " " + ra);
    }

    private static int size(Collector c) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(bytes)) { o.writeObject(c); }
        return bytes.size();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx"})
    void histogramPresetOnTheSharedModels(String file) {
        Model fp32 = Fixtures.fmnist(file);
        Map<String, Object> hist = Map.of("activations", Map.of("range_estimator", Map.of("preset", "histogram")));
        double f = Fixtures.top1(fp32), d = Fixtures.top1(Fixtures.quantize(fp32, Map.of())), h = Fixtures.top1(Fixtures.quantize(fp32, hist));
        Model hard = HardModels.outlierChannels(fp32, 80, 2, 1).model();
        Map<String, Object> histNoCle = Map.of("activations", Map.of("range_estimator", Map.of("preset", "histogram")), "cross_layer_equalization", false);
        double hh = Fixtures.top1(Fixtures.quantize(hard, histNoCle)), hd = Fixtures.top1(Fixtures.quantize(hard, Map.of("cross_layer_equalization", false)));
        double mse = Fixtures.top1(Fixtures.quantize(fp32, Map.of("weights", Map.of("range_estimator", Map.of("preset", "mse")))));
        System.out.printf("%s 10k top-1: FP32 %.4f, min/max %.4f, histogram activations %.4f, mse weights %.4f; planted outliers without CLE: min/max %.4f, histogram %.4f%n", file, f, d, h, mse, hd, hh);
        assertTrue(mse >= f - 0.003, file + ": mse weights " + mse + " vs FP32 " + f);
        assertTrue(h >= f - 0.003, file + ": histogram " + h + " vs FP32 " + f);
    }
}
