package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.tensor.Tensor;

import java.nio.FloatBuffer;

/** Per-channel means of tensors and of collected mean statistics. */
final class Means {
    private Means() {}

    /** Mean of {@code t} over every axis but {@code axis} (-1: the last axis). */
    static float[] perChannel(Tensor t, int axis) {
        long[] s = t.shape();
        int a = axis < 0 ? s.length - 1 : axis;
        int c = (int) s[a];
        long inner = 1;
        for (int d = a + 1; d < s.length; d++) inner *= s[d];
        long outer = t.numElements() / (c * inner);
        FloatBuffer f = t.to(org.ptq4j.spi.tensor.DType.FLOAT).floatView();
        double[] sum = new double[c];
        int p = 0;
        for (long o = 0; o < outer; o++)
            for (int ch = 0; ch < c; ch++)
                for (long i = 0; i < inner; i++) sum[ch] += f.get(p++);
        float[] m = new float[c];
        for (int ch = 0; ch < c; ch++) m[ch] = (float) (sum[ch] / (outer * inner));
        return m;
    }

    /** A collected {@link org.ptq4j.spi.stats.MeanSpec} result as per-channel means: float[C] as is, a mean tensor reduced. */
    static float[] of(Object stat, int axis) {
        if (stat instanceof float[] f) return f;
        return perChannel((Tensor) stat, axis);
    }

    static double meanAbs(float[] v) {
        double s = 0;
        for (float x : v) s += Math.abs(x);
        return v.length == 0 ? 0 : s / v.length;
    }

    static float[] minus(float[] a, float[] b) {
        float[] r = new float[a.length];
        for (int i = 0; i < r.length; i++) r[i] = a[i] - b[i];
        return r;
    }
}
