package org.ptq4j.spi.quant;

import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Which int8 weights ONNX Runtime adds in pairs into a <b>saturating int16</b> on x86 CPUs without VNNI.
 * <p>
 * MLAS's u8s8 kernels for AVX2 (and AVX-512 BW without VNNI) multiply the uint8 activations by the
 * int8 weights with {@code vpmaddubsw}: the products of K elements {@code 2j} and {@code 2j+1} (K = the
 * reduction dimension, in the order the kernel packs it) are added into one int16 with saturation, before
 * the int32 accumulation. With activations anywhere in 0..255, a pair saturates when both weights have
 * the same sign and {@code 255 * (|w_a| + |w_b|) > 32767}, i.e. {@code |w_a| + |w_b| > 128}. Pairs of
 * opposite sign cannot ({@code 255 * 128 = 32640}). VNNI / AMX ({@code vpdpbusd}, tiles) accumulate in int32.
 * <p>
 * K order, per output channel:
 * <ul>
 *   <li>Gemm / MatMul ({@code QGemm}, {@code MatMulIntegerToFloat}, {@code MatMulInteger}): the reduction
 *       index as it is ({@code W[k, n]}, or {@code W[n, k]} for {@code transB}).</li>
 *   <li>Conv ({@code QLinearConv}): MLAS reorders the filter to kernel-position-major, channel-minor
 *       ({@code k = p * C_g + c}: NHWC im2col, and ConvSym's 4-channel packs at each position).
 *       {@link #forLayer} also adds the channel-major order ({@code k = c * P + p}, NCHW im2col) so a
 *       grid made safe for it holds whichever layout a runtime picks; {@link #mlas} is the exact one.
 *       A MatMul weight {@code [K, N]} (also batched {@code [.., K, N]}) pairs along K.</li>
 *   <li>Depthwise Conv (one input and one output channel per group): MLAS's depthwise kernels widen
 *       to 16 bits and multiply with {@code vpmaddwd}: no pairs, nothing saturates.</li>
 * </ul>
 * {@link WeightGrid} uses the pairs to choose saturation-safe scales; {@link #analyze} checks a written model.
 * <p>
 * A pair is two flat indices into the weight tensor; {@code byChannel[c]} lists the pairs of the
 * quantization channel {@code c} (one channel when per tensor) as {@code [a0, b0, a1, b1, ...]}.
 *
 * @param byChannel pairs grouped by quantization channel
 */
public record Int16Pairs(int[][] byChannel) {

    /** The largest {@code |w_a| + |w_b|} of a same-sign pair that cannot saturate with uint8 activations. */
    public static final int PAIR_LIMIT = 128;
    /** The int16 limit the pair sums must stay within. */
    public static final int INT16_MAX = 32767;

    /** No pair at all (depthwise conv, unknown layouts). */
    public static Int16Pairs none(int channels) {
        int[][] p = new int[Math.max(1, channels)][];
        for (int i = 0; i < p.length; i++) p[i] = new int[0];
        return new Int16Pairs(p);
    }

    /** Pairs that a saturation-safe grid must respect for this layer: MLAS's order, plus the channel-major conv order. */
    public static Int16Pairs forLayer(Node n, long[] wshape, int axis) {
        return of(n, wshape, axis, true);
    }

    /** MLAS's pairs exactly (for analysis of a written model). */
    public static Int16Pairs mlas(Node n, long[] wshape, int axis) {
        return of(n, wshape, axis, false);
    }

    /** Receives the pairs of one layer as flat weight indices. */
    private interface Visitor { void pair(int a, int b); }

    /** Pairs of a MatMul weight {@code [.., K, N]} (MatMulInteger, DynamicQuantizeMatMul, MatMulIntegerToFloat): along K. */
    public static Int16Pairs forMatMulWeight(long[] wshape, int axis) {
        return of("MatMul", 1, false, wshape, axis, false);
    }

    private static Int16Pairs of(Node n, long[] s, int axis, boolean bothConvOrders) {
        return of(n.opType(), n.attrLong("group", 1), n.opType().equals("Gemm") && n.attrLong("transB", 0) == 1, s, axis, bothConvOrders);
    }

    private static Int16Pairs of(String op, long group, boolean transB, long[] s, int axis, boolean bothConvOrders) {
        int channels = channels(s, axis);
        if (!visit(op, group, transB, s, bothConvOrders, (a, b) -> {})) return none(channels);
        long inner = 1;
        if (axis >= 0) for (int i = axis + 1; i < s.length; i++) inner *= s[i];
        final long in = inner;
        int[] count = new int[channels];
        visit(op, group, transB, s, bothConvOrders, (a, b) -> count[channel(a, s, axis, in)] += 2);
        int[][] r = new int[channels][];
        for (int c = 0; c < channels; c++) r[c] = new int[count[c]];
        int[] fill = new int[channels];
        visit(op, group, transB, s, bothConvOrders, (a, b) -> {
            int c = channel(a, s, axis, in);
            r[c][fill[c]++] = a;
            r[c][fill[c]++] = b;
        });
        return new Int16Pairs(r);
    }

    private static int channel(int flat, long[] s, int axis, long inner) {
        return axis < 0 ? 0 : (int) ((flat / inner) % s[axis]);
    }

    /** Walks the K order of each output column and hands out elements (2j, 2j+1); false when the layer has no pairs. */
    private static boolean visit(String op, long group, boolean transB, long[] s, boolean bothConvOrders, Visitor v) {
        if (op.equals("Conv")) {
            if (s.length < 3) return false;
            int m = (int) s[0], cg = (int) s[1];
            int p = 1;
            for (int i = 2; i < s.length; i++) p *= (int) s[i];
            if (cg == 1 && group > 1 && group == m) return false;      // depthwise: exact kernels
            int k = cg * p;
            for (int o = 0; o < m; o++) {
                for (int i = 0; i + 1 < k; i += 2)                      // MLAS: k = position * C_g + channel
                    v.pair((o * cg + i % cg) * p + i / cg, (o * cg + (i + 1) % cg) * p + (i + 1) / cg);
                if (bothConvOrders && cg > 1 && p > 1)
                    for (int i = 0; i + 1 < k; i += 2)                  // channel-major: k = channel * P + position
                        v.pair(o * k + i, o * k + i + 1);
            }
            return true;
        }
        if (op.equals("Gemm") || op.equals("MatMul")) {
            if (s.length < 2) return false;
            int rows = (int) s[s.length - 2], cols = (int) s[s.length - 1];
            int batches = 1;
            for (int i = 0; i < s.length - 2; i++) batches *= (int) s[i];
            int k = transB ? cols : rows, nOut = transB ? rows : cols;
            for (int b = 0; b < batches; b++)
                for (int o = 0; o < nOut; o++)
                    for (int i = 0; i + 1 < k; i += 2) {
                        int base = b * rows * cols;
                        v.pair(base + (transB ? o * cols + i : i * cols + o), base + (transB ? o * cols + i + 1 : (i + 1) * cols + o));
                    }
            return true;
        }
        return false;
    }

    private static int channels(long[] s, int axis) {
        return axis < 0 ? 1 : (int) s[axis];
    }

    /** The largest same-sign {@code |q_a| + |q_b|} (or single {@code |q|}) over all pairs of quantized values {@code q}. */
    public int worstPairSum(byte[] q) {
        int worst = 0;
        for (int[] ps : byChannel)
            for (int i = 0; i + 1 < ps.length; i += 2) worst = Math.max(worst, pairSum(q[ps[i]], q[ps[i + 1]]));
        return worst;
    }

    /** {@code max |a x + b y|} over activations x, y in 0..255, divided by 255. */
    public static int pairSum(int a, int b) {
        return (a >= 0) == (b >= 0) ? Math.abs(a) + Math.abs(b) : Math.max(Math.abs(a), Math.abs(b));
    }

    /**
     * One layer of a written model whose int8 weights can overflow int16 pair sums on CPUs without VNNI.
     *
     * @param node          the Conv / Gemm / MatMul
     * @param worstPairSum  largest same-sign {@code |w_a| + |w_b|} in MLAS's pairing
     * @param saturating    pairs with {@code 255 * sum > 32767}
     * @param pairs         pairs in all
     */
    public record Finding(String node, int worstPairSum, int saturating, int pairs) {
        public boolean canSaturate() { return saturating > 0; }
    }

    /**
     * Every Conv / Gemm / MatMul of a written QDQ model whose weight is an int8 initializer behind a
     * {@code DequantizeLinear}, with its worst pair in MLAS's order (uint8 activations assumed to span 0..255).
     */
    public static List<Finding> analyze(Model m) {
        Graph g = m.graph();
        List<Finding> r = new ArrayList<>();
        for (Node n : g.nodes()) {
            String op = n.opType();
            if (!n.domain().isEmpty() || n.inputs().size() < 2 || !(op.equals("Conv") || op.equals("Gemm") || op.equals("MatMul"))) continue;
            Node dq = g.producer(n.input(1));
            if (dq == null || !dq.opType().equals("DequantizeLinear")) continue;
            Tensor w = g.initializer(dq.input(0)).orElse(null);
            if (w == null || w.dtype() != DType.INT8) continue;
            byte[] q = new byte[(int) w.numElements()];
            w.bytes().get(0, q);
            Int16Pairs pairs = mlas(n, w.shape(), -1);
            int worst = 0, bad = 0, count = 0;
            for (int[] ps : pairs.byChannel())
                for (int i = 0; i + 1 < ps.length; i += 2) {
                    int sum = pairSum(q[ps[i]], q[ps[i + 1]]);
                    worst = Math.max(worst, sum);
                    if (255 * sum > INT16_MAX) bad++;
                    count++;
                }
            r.add(new Finding(n.name(), worst, bad, count));
        }
        return r;
    }
}
