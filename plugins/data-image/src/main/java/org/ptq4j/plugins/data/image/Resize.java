package org.ptq4j.plugins.data.image;

/**
 * Bilinear resampling of a float plane, as PIL's {@code Image.resize(..., BILINEAR)}: each output
 * pixel is a triangle-filter average of input pixels around its centre (half-pixel convention),
 * the filter widened by the shrink factor when downscaling (antialiasing), so downscaled images do
 * not alias; for upscaling it is plain bilinear interpolation. Separable: rows, then columns.
 */
final class Resize {
    private Resize() {}

    /** Resizes {@code src} ({@code h x w}, row-major) to {@code oh x ow}. */
    static float[] bilinear(float[] src, int h, int w, int oh, int ow) {
        return bilinear(src, h, w, oh, ow, 0, 0, oh, ow);
    }

    /**
     * The window {@code [top, top + ch) x [left, left + cw)} of {@code src} resized to {@code oh x ow}
     * (resize then crop, computing only the pixels kept).
     */
    static float[] bilinear(float[] src, int h, int w, int oh, int ow, int top, int left, int ch, int cw) {
        if (oh == h && ow == w && ch == oh && cw == ow) return src;
        // weights only for the kept window: memory follows the input and the crop, not the resized size
        Weights wx = weights(w, ow, left, cw), wy = weights(h, oh, top, ch);
        float[] tmp = new float[h * cw];
        for (int y = 0; y < h; y++) {
            int row = y * w;
            for (int x = 0; x < cw; x++) {
                float acc = 0;
                int base = x * wx.taps, first = row + wx.first[x];
                for (int t = 0; t < wx.count[x]; t++) acc += wx.w[base + t] * src[first + t];
                tmp[y * cw + x] = acc;
            }
        }
        float[] out = new float[ch * cw];
        for (int y = 0; y < ch; y++) {
            int base = y * wy.taps;
            for (int t = 0; t < wy.count[y]; t++) {
                float k = wy.w[base + t];
                int row = (wy.first[y] + t) * cw;
                for (int x = 0; x < cw; x++) out[y * cw + x] += k * tmp[row + x];
            }
        }
        return out;
    }

    /** For each kept output index (from {@code from}, {@code n} of them): the first input index, how many taps, and their normalised weights. */
    private record Weights(int[] first, int[] count, float[] w, int taps) {}

    private static Weights weights(int in, int out, int from, int n0) {
        double scale = (double) in / out;
        double support = Math.max(scale, 1.0);          // filter half-width in input pixels
        int taps = (int) Math.min(in + 2L, (long) Math.ceil(support) * 2 + 1);
        int[] first = new int[n0], count = new int[n0];
        float[] w = new float[n0 * taps];
        double[] k = new double[taps + 2];
        for (int i = 0; i < n0; i++) {
            double center = (i + from + 0.5) * scale;
            int lo = Math.max(0, (int) Math.floor(center - support)), hi = Math.min(in, (int) Math.ceil(center + support));
            double sum = 0;
            int n = 0;
            if (hi - lo > k.length) k = new double[hi - lo];
            for (int j = lo; j < hi; j++) {
                double d = Math.abs((j + 0.5 - center) / support);
                k[j - lo] = d < 1 ? 1 - d : 0;
                sum += k[j - lo];
            }
            // drop zero-weight taps at both ends
            int a = 0, b = hi - lo;
            while (a < b && k[a] == 0) a++;
            while (b > a && k[b - 1] == 0) b--;
            first[i] = lo + a;
            for (int j = a; j < b; j++) w[i * taps + n++] = (float) (k[j] / sum);
            count[i] = n;
        }
        return new Weights(first, count, w, taps);
    }
}
