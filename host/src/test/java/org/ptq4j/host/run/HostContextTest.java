package org.ptq4j.host.run;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.stats.MeanSpec;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class HostContextTest {
    /** An in-memory dataset over rows of an array (the numpy plugin is a plugin; the host must not depend on it). */
    static Dataset rows(Tensor all) {
        return new Dataset() {
            @Override public int size() { return (int) all.dim(0); }
            @Override public Sample get(int i) {
                Tensor row = all.slice0(i, i + 1);
                long[] s = row.shape();
                return new Sample(i, "row " + i, Map.of("input", row.reshape(java.util.Arrays.copyOfRange(s, 1, s.length))), null);
            }
        };
    }

    @Test
    void onePassStatisticsMatchAFullRecomputation() {
        Model m = OnnxIO.read(TestAssets.model("fmnist_resnet.onnx"));
        Tensor calib = Npy.read(TestAssets.data("fmnist-calib-300.npy")).slice0(0, 64);
        List<String> tensors = new ArrayList<>();
        for (Node n : m.graph().nodes()) if (n.opType().equals("Conv")) tensors.add(n.output(0));
        tensors.add("input");
        RangeSpec minMax = RangeSpec.minMax();
        RangeSpec meanOfExtremes = new RangeSpec(RangeSpec.Reduce.MIN, RangeSpec.Aggregate.MEAN, RangeSpec.Reduce.MAX, RangeSpec.Aggregate.MEAN, 0);
        List<StatisticRequest> req = new ArrayList<>();
        for (String t : tensors) {
            req.add(new StatisticRequest(t, minMax));
            req.add(new StatisticRequest(t, minMax)); // duplicates are collected once
            req.add(new StatisticRequest(t, meanOfExtremes));
            req.add(new StatisticRequest(t, MeanSpec.perChannel(1)));
        }
        try (HostContext ctx = HostContext.builder().engine(new OrtEngine()).threads(1).batchSize(16).build()) {
            Statistics st = ctx.collect(m, rows(calib), ctx.subset(rows(calib), 64, 0, false), req);
            assertEquals(64, st.samples());
            // recompute directly: all 64 samples in one run, every tensor as an output
            try (Session s = new OrtEngine().open(m, SessionOptions.defaults().withExtraOutputs(tensors))) {
                Map<String, Tensor> all = new java.util.HashMap<>(s.run(Map.of("input", calib)));
                all.put("input", calib);
                for (String t : tensors) {
                    float[] v = all.get(t).floats();
                    float mn = Float.MAX_VALUE, mx = -Float.MAX_VALUE;
                    for (float f : v) { mn = Math.min(mn, f); mx = Math.max(mx, f); }
                    Range r = st.get(t, minMax);
                    assertEquals(mn, r.min(), 1e-5, t);
                    assertEquals(mx, r.max(), 1e-5, t);
                    // mean of per-sample maxima
                    int per = v.length / 64;
                    double sumMax = 0;
                    for (int i = 0; i < 64; i++) { float smx = -Float.MAX_VALUE; for (int j = 0; j < per; j++) smx = Math.max(smx, v[i * per + j]); sumMax += smx; }
                    Range me = st.get(t, meanOfExtremes);
                    assertEquals(sumMax / 64, me.max(), 1e-4, t);
                    float[] chMean = st.get(t, MeanSpec.perChannel(1));
                    long c = all.get(t).dim(1);
                    assertEquals(c, chMean.length);
                    long inner = per / c;
                    double s0 = 0;
                    for (int i = 0; i < 64; i++) for (int j = 0; j < inner; j++) s0 += v[(int) (i * per + j)];
                    assertEquals(s0 / (64 * inner), chMean[0], 1e-4, t);
                }
            }
        }
    }

    @Test
    void badCalibrationDataIsRejectedWithTheIndexAndInput() {
        Model m = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx"));
        float[] data = Npy.read(TestAssets.data("fmnist-calib-300.npy")).slice0(0, 4).floats();
        data[784 * 2 + 5] = Float.NaN;
        Tensor bad = Tensor.ofFloats(new long[]{4, 1, 28, 28}, data);
        String conv = m.graph().nodes().get(0).output(0);
        try (HostContext ctx = HostContext.builder().engine(new OrtEngine()).threads(1).build()) {
            PtqException e = assertThrows(PtqException.class, () -> ctx.collect(m, rows(bad), new int[]{0, 1, 2, 3}, List.of(new StatisticRequest(conv, RangeSpec.minMax()))));
            assertTrue(e.getMessage().contains("index 2") && e.getMessage().contains("'input'") && e.getMessage().contains("NaN"), e.getMessage());
            PtqException empty = assertThrows(PtqException.class, () -> ctx.collect(m, rows(bad), new int[0], List.of(new StatisticRequest(conv, RangeSpec.minMax()))));
            assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
            Tensor wrongShape = Tensor.ofFloats(new long[]{2, 1, 14, 14}, new float[2 * 196]);
            PtqException shape = assertThrows(PtqException.class, () -> ctx.collect(m, rows(wrongShape), new int[]{0, 1}, List.of(new StatisticRequest(conv, RangeSpec.minMax()))));
            assertTrue(shape.getMessage().contains("'input'") && shape.getMessage().contains("1, 14, 14]") && shape.getMessage().contains("expects shape [batch, 1, 28, 28]"), shape.getMessage());
        }
    }

    @Test
    void seededSubsetsAreReproducibleAndSorted() {
        int[] a = HostContext.subsetOf(1000, 300, 7, true);
        int[] b = HostContext.subsetOf(1000, 300, 7, true);
        assertArrayEquals(a, b);
        assertEquals(300, java.util.Arrays.stream(a).distinct().count());
        for (int i = 1; i < a.length; i++) assertTrue(a[i - 1] < a[i]);
        assertArrayEquals(new int[]{0, 1, 2}, HostContext.subsetOf(3, 300, 7, true));
    }
}
