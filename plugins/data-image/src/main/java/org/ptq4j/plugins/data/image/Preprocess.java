package org.ptq4j.plugins.data.image;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;

/**
 * Image to tensor, in this order: pixels (0..255) in the requested color order -> resize (bilinear,
 * shorter side or exact size) -> center crop -> {@code (v * scale - mean[c]) / std[c]} -> layout
 * (CHW or HWC) -> dtype. Immutable and thread-safe.
 *
 * @param resizeShort shorter side after resizing (0: not this mode)
 * @param resizeH     exact height after resizing (0: not this mode); {@code resizeW} likewise
 * @param cropH       center-crop height (0: no crop); {@code cropW} likewise
 * @param outH        height the model needs (-1: any); {@code outW} likewise
 */
record Preprocess(Color color, int resizeShort, int resizeH, int resizeW, int cropH, int cropW, int outH, int outW,
                  float scale, float[] mean, float[] std, boolean nhwc, DType dtype) {

    /** Channel order of the tensor. GRAY is ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B), as PIL and OpenCV. */
    enum Color {
        RGB(3), BGR(3), GRAY(1);
        final int channels;
        Color(int channels) { this.channels = channels; }
    }

    /** Largest preprocessed image (pixels) when no crop bounds it. */
    static final long MAX_OUTPUT_PIXELS = 1L << 26;

    /** The tensor of one decoded image ({@code id} names it in errors). */
    Tensor apply(BufferedImage img, String id) {
        int h = img.getHeight(), w = img.getWidth();
        float[][] planes = planes(img, color);
        int nh = h, nw = w;
        if (resizeShort > 0) {
            // the shorter side becomes resizeShort, the longer one keeps the aspect ratio (truncated, as torchvision)
            long longer = (long) resizeShort * Math.max(h, w) / Math.min(h, w);
            if (longer > Integer.MAX_VALUE / 4 || (cropH == 0 && longer * resizeShort > MAX_OUTPUT_PIXELS))
                throw new PtqException(id + ": image of " + h + "x" + w + " (HxW) would be resized to " + (h <= w ? resizeShort + "x" + longer : longer + "x" + resizeShort)
                        + " for shorter side " + resizeShort + "; too large (crop it, or give 'resize' as [height, width])");
            if (h <= w) { nh = resizeShort; nw = (int) longer; }
            else { nw = resizeShort; nh = (int) longer; }
        } else if (resizeH > 0) {
            nh = resizeH;
            nw = resizeW;
        }
        int top = 0, left = 0, ch = nh, cw = nw;
        if (cropH > 0) {
            if (cropH > nh || cropW > nw)
                throw new PtqException(id + ": image is " + nh + "x" + nw + (nh != h || nw != w ? " after resizing" : "")
                        + ", smaller than the center crop " + cropH + "x" + cropW);
            ch = cropH;
            cw = cropW;
            top = (int) Math.round((nh - ch) / 2.0);
            left = (int) Math.round((nw - cw) / 2.0);
        }
        if ((outH > 0 && ch != outH) || (outW > 0 && cw != outW))
            throw new PtqException(id + ": preprocessed image is " + ch + "x" + cw + " (HxW) but the model input needs "
                    + (outH > 0 ? outH : "?") + "x" + (outW > 0 ? outW : "?") + "; set 'resize' / 'crop'");
        int stride = nw;
        if (nh != h || nw != w) {
            // resize and crop in one go: only the kept pixels are computed
            for (int c = 0; c < planes.length; c++) planes[c] = Resize.bilinear(planes[c], h, w, nh, nw, top, left, ch, cw);
            top = 0;
            left = 0;
            stride = cw;
        }
        int cs = planes.length;
        float[] out = new float[cs * ch * cw];
        for (int c = 0; c < cs; c++) {
            float m = mean[mean.length == 1 ? 0 : c], s = std[std.length == 1 ? 0 : c];
            float[] p = planes[c];
            for (int y = 0; y < ch; y++) {
                int src = (y + top) * stride + left;
                for (int x = 0; x < cw; x++) {
                    float v = (p[src + x] * scale - m) / s;
                    out[nhwc ? (y * cw + x) * cs + c : (c * ch + y) * cw + x] = v;
                }
            }
        }
        long[] shape = nhwc ? new long[]{ch, cw, cs} : new long[]{cs, ch, cw};
        Tensor t = Tensor.ofFloats(shape, out);
        return dtype == DType.FLOAT ? t : t.to(dtype);
    }

    /** The image's pixels as one float plane (0..255) per output channel. */
    static float[][] planes(BufferedImage img, Color color) {
        int h = img.getHeight(), w = img.getWidth(), n = h * w;
        float[][] planes = new float[color.channels][n];
        Raster r = img.getRaster();
        boolean gray = img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY && r.getNumBands() <= 2;
        if (gray) {
            // read samples directly: getRGB would push linear-gray values through an sRGB conversion
            int[] v = r.getSamples(0, 0, w, h, 0, (int[]) null);
            int bits = r.getSampleModel().getSampleSize(0);
            float k = bits == 8 ? 1f : 255f / ((1 << bits) - 1);
            for (int i = 0; i < n; i++) planes[0][i] = v[i] * k;
            for (int c = 1; c < planes.length; c++) System.arraycopy(planes[0], 0, planes[c], 0, n);
            return planes;
        }
        if (isPlainSrgb(img)) {
            // 8-bit sRGB (JPEG, RGB/RGBA PNG): raster bands are R, G, B(, A); read them without per-pixel color conversion
            int[] order = color == Color.BGR ? new int[]{2, 1, 0} : new int[]{0, 1, 2};
            if (bytes(img, planes, order, color == Color.GRAY)) return planes;
            if (color == Color.GRAY) {
                float[] g = planes[0];
                int[] v = null;
                float[] k = {0.299f, 0.587f, 0.114f};
                for (int b = 0; b < 3; b++) {
                    v = r.getSamples(0, 0, w, h, b, v);
                    for (int i = 0; i < n; i++) g[i] += k[b] * v[i];
                }
            } else {
                int[] v = null;
                for (int c = 0; c < 3; c++) {
                    v = r.getSamples(0, 0, w, h, order[c], v);
                    float[] pl = planes[c];
                    for (int i = 0; i < n; i++) pl[i] = v[i];
                }
            }
            return planes;
        }
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < n; i++) {
            int p = argb[i], rr = (p >> 16) & 0xff, gg = (p >> 8) & 0xff, bb = p & 0xff;
            switch (color) {
                case RGB -> { planes[0][i] = rr; planes[1][i] = gg; planes[2][i] = bb; }
                case BGR -> { planes[0][i] = bb; planes[1][i] = gg; planes[2][i] = rr; }
                case GRAY -> planes[0][i] = 0.299f * rr + 0.587f * gg + 0.114f * bb;
            }
        }
        return planes;
    }

    /** Fast path for interleaved 8-bit rasters (e.g. decoded JPEGs, TYPE_3BYTE_BGR): read the bytes directly. */
    private static boolean bytes(BufferedImage img, float[][] planes, int[] order, boolean gray) {
        Raster r = img.getRaster();
        if (!(r.getDataBuffer() instanceof java.awt.image.DataBufferByte db) || db.getNumBanks() != 1
                || !(r.getSampleModel() instanceof java.awt.image.ComponentSampleModel sm)) return false;
        byte[] data = db.getData();
        int w = img.getWidth(), h = img.getHeight(), ps = sm.getPixelStride();
        int tx = r.getSampleModelTranslateX(), ty = r.getSampleModelTranslateY();
        int[] off = new int[3];
        for (int c = 0; c < 3; c++) off[c] = sm.getOffset(-tx, -ty, order[c]) - sm.getOffset(-tx, -ty, 0);
        for (int y = 0; y < h; y++) {
            int row = db.getOffset() + sm.getOffset(-tx, y - ty, 0), o = y * w;
            for (int x = 0; x < w; x++) {
                int at = row + x * ps;
                float a = data[at + off[0]] & 0xff, b = data[at + off[1]] & 0xff, c = data[at + off[2]] & 0xff;
                if (gray) planes[0][o + x] = 0.299f * a + 0.587f * b + 0.114f * c;
                else { planes[0][o + x] = a; planes[1][o + x] = b; planes[2][o + x] = c; }
            }
        }
        return true;
    }

    private static boolean isPlainSrgb(BufferedImage img) {
        var cm = img.getColorModel();
        if (!(cm instanceof java.awt.image.ComponentColorModel || cm instanceof java.awt.image.DirectColorModel)) return false;
        if (!cm.getColorSpace().isCS_sRGB() || cm.isAlphaPremultiplied()) return false;
        var sm = img.getRaster().getSampleModel();
        if (sm.getNumBands() < 3) return false;
        for (int b = 0; b < 3; b++) if (sm.getSampleSize(b) != 8) return false;
        return true;
    }
}
