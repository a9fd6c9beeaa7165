package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reproduces, in Java, the integer arithmetic of ONNX Runtime's u8s8 kernels on x86 CPUs without VNNI
 * (MLAS AVX2: {@code vpmaddubsw} adds the products of K elements 2j and 2j+1 into a saturating int16,
 * {@code vpmaddwd} widens the pair sums into the int32 accumulator) for every quantized Conv / Gemm /
 * MatMul of a written QDQ model, on real inputs: the uint8 tensors each layer reads are taken from the
 * model itself in ONNX Runtime, then every output's accumulator is computed both exactly (as VNNI/AMX do)
 * and with int16 pair saturation, in MLAS's K order (Conv: kernel position major, input channel minor).
 * Zero points do not enter the pair sums: MLAS corrects for them with row and column sums afterwards.
 */
final class Avx2Simulator {
    private Avx2Simulator() {}

    /**
     * One layer's result.
     *
     * @param node      layer name
     * @param outputs   accumulators computed
     * @param saturated accumulators whose value differs from the exact one
     * @param maxError  largest |saturated - exact|, in accumulator units
     */
    record LayerResult(String node, long outputs, long saturated, long maxError) {}

    /** Runs {@code model} on {@code input} (feed name "input") and simulates each integer layer. */
    static List<LayerResult> run(Model model, Tensor input) {
        Graph g = model.graph();
        Map<Node, String[]> layers = new LinkedHashMap<>();   // node -> {uint8 activation, int8 weight}
        for (Node n : g.nodes()) {
            String op = n.opType();
            if (!(op.equals("Conv") || op.equals("Gemm") || op.equals("MatMul")) || !n.domain().isEmpty()) continue;
            Node xdq = g.producer(n.input(0)), wdq = g.producer(n.input(1));
            if (xdq == null || wdq == null || !xdq.opType().equals("DequantizeLinear") || !wdq.opType().equals("DequantizeLinear")) continue;
            Tensor w = g.initializer(wdq.input(0)).orElse(null);
            if (w == null || w.dtype() != DType.INT8) continue;
            layers.put(n, new String[]{xdq.input(0), wdq.input(0)});
        }
        List<String> taps = layers.values().stream().map(v -> v[0]).distinct().toList();
        Map<String, Tensor> acts;
        try (Session s = Fixtures.ENGINE.open(model, SessionOptions.defaults().withThreads(1).withExtraOutputs(taps))) {
            acts = s.run(Map.of("input", input), taps);
        }
        List<LayerResult> r = new ArrayList<>();
        for (var e : layers.entrySet()) {
            Node n = e.getKey();
            Tensor x = acts.get(e.getValue()[0]), w = g.initializer(e.getValue()[1]).orElseThrow();
            if (x.dtype() != DType.UINT8) continue;
            int zx = (int) g.initializer(g.producer(n.input(0)).input(2)).orElseThrow().longs()[0];
            byte[] xb = bytes(x), wb = bytes(w);
            Acc acc = new Acc(n.name());
            if (n.opType().equals("Conv")) conv(n, x.shape(), xb, zx, w.shape(), wb, acc);
            else gemm(n, x.shape(), xb, w.shape(), wb, acc);
            r.add(new LayerResult(n.name(), acc.outputs, acc.saturated, acc.maxError));
        }
        return r;
    }

    private static byte[] bytes(Tensor t) {
        byte[] b = new byte[(int) t.numElements()];
        t.bytes().get(0, b);
        return b;
    }

    /** Accumulates one output from its K-ordered uint8 activations and int8 weights. */
    private static final class Acc {
        final String node;
        long outputs, saturated, maxError;

        Acc(String node) { this.node = node; }

        void dot(int[] a, int[] w, int k) {
            long exact = 0, sat = 0;
            for (int i = 0; i < k; i += 2) {
                int p = a[i] * w[i] + (i + 1 < k ? a[i + 1] * w[i + 1] : 0);
                exact += p;
                sat += Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, p));
            }
            outputs++;
            if (sat != exact) {
                saturated++;
                maxError = Math.max(maxError, Math.abs(sat - exact));
            }
        }
    }

    /** 2-D (or 1-D) Conv, NOTSET padding: padded positions read the activation zero point, as ORT's im2col does. */
    private static void conv(Node n, long[] xs, byte[] x, int zx, long[] ws, byte[] w, Acc acc) {
        int batch = (int) xs[0], c = (int) xs[1], h = (int) xs[2], wd = xs.length > 3 ? (int) xs[3] : 1;
        int m = (int) ws[0], cg = (int) ws[1], kh = (int) ws[2], kw = ws.length > 3 ? (int) ws[3] : 1;
        int group = (int) n.attrLong("group", 1);
        if (cg == 1 && group > 1 && group == m) return;           // depthwise: MLAS widens to 16 bits, exact
        long[] st = ints(n, "strides", 1), dl = ints(n, "dilations", 1), pd = ints(n, "pads", 0);
        int sh = (int) st[0], sw = st.length > 1 ? (int) st[1] : 1, dh = (int) dl[0], dw = dl.length > 1 ? (int) dl[1] : 1;
        int pt = (int) pd[0], pl = pd.length >= 4 ? (int) pd[1] : 0;
        int pb = pd.length >= 4 ? (int) pd[2] : pd.length == 2 ? (int) pd[1] : 0, pr = pd.length >= 4 ? (int) pd[3] : 0;
        int oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1, ow = (wd + pl + pr - dw * (kw - 1) - 1) / sw + 1;
        int mg = m / group, k = cg * kh * kw;
        int[] a = new int[k], wv = new int[k];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < m; o++) {
                int gi = o / mg;
                for (int pp = 0; pp < kh * kw; pp++)
                    for (int ci = 0; ci < cg; ci++) wv[pp * cg + ci] = w[(o * cg + ci) * kh * kw + pp];
                for (int y = 0; y < oh; y++)
                    for (int xo = 0; xo < ow; xo++) {
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int iy = y * sh - pt + i * dh, ix = xo * sw - pl + j * dw;
                                boolean in = iy >= 0 && iy < h && ix >= 0 && ix < wd;
                                for (int ci = 0; ci < cg; ci++) {
                                    int ch = gi * cg + ci;
                                    a[(i * kw + j) * cg + ci] = in ? x[((b * c + ch) * h + iy) * wd + ix] & 0xff : zx;
                                }
                            }
                        acc.dot(a, wv, k);
                    }
            }
    }

    /** Gemm (transB honoured) / MatMul with a 2-D weight: rows of the flattened activation times weight columns. */
    private static void gemm(Node n, long[] xs, byte[] x, long[] ws, byte[] w, Acc acc) {
        if (ws.length != 2) return;
        boolean transB = n.opType().equals("Gemm") && n.attrLong("transB", 0) == 1;
        int k = (int) (transB ? ws[1] : ws[0]), nOut = (int) (transB ? ws[0] : ws[1]);
        int rows = x.length / k;
        int[] a = new int[k], wv = new int[k];
        for (int o = 0; o < nOut; o++) {
            for (int i = 0; i < k; i++) wv[i] = transB ? w[o * k + i] : w[i * nOut + o];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < k; i++) a[i] = x[r * k + i] & 0xff;
                acc.dot(a, wv, k);
            }
        }
    }

    private static long[] ints(Node n, String name, long dflt) {
        return n.attribute(name).map(at -> at.asLongs().stream().mapToLong(Long::longValue).toArray()).orElse(new long[]{dflt, dflt});
    }
}
