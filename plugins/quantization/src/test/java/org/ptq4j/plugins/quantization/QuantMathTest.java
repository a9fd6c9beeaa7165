package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.ptq4j.spi.stats.RangeSpec;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The quantization arithmetic: round-trip error bounds and the zero-point conventions. */
class QuantMathTest {

    private static float dq(int q, QuantMath.QParams p) { return (q - p.zeroPoint()) * p.scale(); }

    private static int q(float x, QuantMath.QParams p) {
        return (int) Math.max(0, Math.min(255, Math.rint(x / p.scale()) + p.zeroPoint()));
    }

    @Test
    void activationRoundTripWithinHalfAStep() {
        SplittableRandom r = new SplittableRandom(5);
        for (boolean symmetric : new boolean[]{true, false}) {
            for (int trial = 0; trial < 200; trial++) {
                float lo = (float) (r.nextDouble() < 0.3 ? 0 : -5 * r.nextDouble()), hi = (float) (0.01 + 5 * r.nextDouble());
                QuantMath.QParams p = QuantMath.activation(lo, hi, symmetric, 8);
                assertTrue(p.zeroPoint() >= 0 && p.zeroPoint() <= 255);
                assertEquals(0f, dq(q(0f, p), p), 0f, "zero is exact");
                for (int i = 0; i < 50; i++) {
                    float x = lo + (float) r.nextDouble() * (hi - lo);
                    assertEquals(x, dq(q(x, p), p), p.scale() / 2 + 1e-6f, "x=" + x + " in [" + lo + ", " + hi + "] " + p);
                }
                if (symmetric) assertEquals(lo == 0f ? 0 : 128, p.zeroPoint(), "symmetric uint8: zp 0 for non-negative, 128 for signed");
            }
        }
    }

    @Test
    void degenerateRangeGetsAUsableScale() {
        QuantMath.QParams p = QuantMath.activation(0f, 0f, false, 8);
        assertTrue(p.scale() > 0 && Float.isFinite(p.scale()));
    }

    @Test
    void perChannelWeightsUseEachChannelsRange() {
        SplittableRandom r = new SplittableRandom(9);
        int out = 4, in = 3, k = 5;
        float[] w = new float[out * in * k];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * (1 + i / (in * k)));  // channel c ~ (c+1) spread
        for (int bits : new int[]{8, 7}) {
            QuantMath.QWeights qw = QuantMath.weights(w, new long[]{out, in, k}, 0, true, bits, RangeSpec.minMax());
            int qmax = (1 << (bits - 1)) - 1;
            for (int c = 0; c < out; c++) {
                float absMax = 0;
                for (int i = 0; i < in * k; i++) absMax = Math.max(absMax, Math.abs(w[c * in * k + i]));
                assertEquals(absMax / qmax, qw.scales()[c], 1e-6f * absMax);
                assertEquals(0, qw.zeroPoints()[c]);
                for (int i = 0; i < in * k; i++) {
                    int v = qw.values()[c * in * k + i];
                    assertTrue(v >= -qmax && v <= qmax, bits + "-bit value " + v);
                    assertEquals(w[c * in * k + i], v * qw.scales()[c], qw.scales()[c] / 2 + 1e-6f);
                }
            }
        }
        // axis 1 (MatMul [K, N]): channel = column
        QuantMath.QWeights cols = QuantMath.weights(new float[]{1, -8, 2, 4}, new long[]{2, 2}, 1, true, 8, RangeSpec.minMax());
        assertEquals(2f / 127, cols.scales()[0], 1e-7f);
        assertEquals(8f / 127, cols.scales()[1], 1e-7f);
    }

    @Test
    void asymmetricWeightsCoverTheirRange() {
        float[] w = {0.5f, 1.0f, 2.0f, 3.0f};
        QuantMath.QWeights qw = QuantMath.weights(w, new long[]{4}, -1, false, 8, RangeSpec.minMax());
        for (int i = 0; i < w.length; i++)
            assertEquals(w[i], (qw.values()[i] - qw.zeroPoints()[0]) * qw.scales()[0], qw.scales()[0] / 2 + 1e-6f);
    }

    @Test
    void biasIsInt32AtInputTimesWeightScale() {
        float[] scales = new float[2];
        int[] q = QuantMath.bias(new float[]{0.3f, -1.2f}, 0.02f, new float[]{0.01f, 0.05f}, scales);
        assertEquals(0.02f * 0.01f, scales[0], 0f);
        assertEquals(0.02f * 0.05f, scales[1], 0f);
        assertEquals(Math.rint(0.3f / (0.02f * 0.01f)), q[0]);
        assertEquals(Math.rint(-1.2f / (0.02f * 0.05f)), q[1]);
    }
}
