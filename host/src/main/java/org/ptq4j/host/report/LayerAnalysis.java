package org.ptq4j.host.report;

import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.Feeds;
import org.ptq4j.spi.Batch;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Per-layer facts of an FP32 model and its quantized result, for the report: what each Conv / Gemm /
 * MatMul became (INT8 or FP32 and why, weight bits and granularity, the ONNX Runtime kernel after graph
 * optimisation), and the error of its output against FP32 on a few samples, two ways:
 * <ul>
 *   <li><b>isolated</b>: the layer's quantized computation (its Q/DQ, weights, the op) fed the FP32 model's
 *       own input tensors: the error this layer adds by itself. Where the quantized graph computes a layer's input
 *       with nodes the FP32 graph does not have (a rewritten GELU, a reshape), the copied chain starts at the
 *       nearest tensor both graphs share, so it may include the quantized layer before it;</li>
 *   <li><b>accumulated</b>: the quantized model's layer output, i.e. with every earlier layer's error in it.</li>
 * </ul>
 * Both in one pass: the FP32 model runs with the layer outputs (and the isolated layers' inputs) as extra
 * outputs; one "analysis" model = the quantized graph plus a copy of each quantized layer's chain reading
 * the FP32 tensors as graph inputs. SQNR = 10 log10(sum r^2 / sum (r - q)^2) and cosine over all elements of
 * all samples. Exposing a layer output makes ONNX Runtime keep that node unfused (as any per-layer debugger).
 */
final class LayerAnalysis {
    static final Set<String> LAYER_OPS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul");
    static final String FP32_PREFIX = "ptq.fp32/";
    static final String ISO_PREFIX = "ptq.iso/";
    static final int BINS = 48;
    static final Set<String> LAYOUT_OPS = Set.of("ReorderOutput", "ReorderInput", "Transpose");

    /** One layer of the report. Error fields are NaN when not measured. */
    static final class Layer {
        final String name, op;
        boolean int8;
        String precision = "fp32", why = "", kernel, kernelDomain, granularity, qName, qOp;
        Integer weightBits;
        String fp32Tensor, qTensor, actInput;           // actInput: FP32 tensor the activation Q reads
        double clipLo = Double.NaN, clipHi = Double.NaN;
        final double[] iso = new double[4], acc = new double[4];   // sum r^2, sum e^2, sum r*q, sum q^2
        boolean isoMeasured, accMeasured;
        long[] hist;
        double histLo = Double.NaN, histHi = Double.NaN;
        long below, above, total;

        Layer(String name, String op) { this.name = name; this.op = op; }

        double sqnr(double[] s) { return s[1] == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(s[0] / s[1]); }
        double cos(double[] s) { return s[0] == 0 || s[3] == 0 ? Double.NaN : s[2] / Math.sqrt(s[0] * s[3]); }
        double isoSqnr() { return isoMeasured ? sqnr(iso) : Double.NaN; }
        double accSqnr() { return accMeasured ? sqnr(acc) : Double.NaN; }
        double isoCos() { return isoMeasured ? cos(iso) : Double.NaN; }
        double accCos() { return accMeasured ? cos(acc) : Double.NaN; }
    }

    /** What the analysis found. */
    record Result(List<Layer> layers, int samples, String dataset, List<String> warnings, String kernelsNote, double seconds) {}

    private final InferenceEngine engine;
    private final Model fp32, quantized;
    private final int threads;

    LayerAnalysis(InferenceEngine engine, Model fp32, Model quantized, int threads) {
        this.engine = engine;
        this.fp32 = fp32;
        this.quantized = quantized;
        this.threads = threads;
    }

    /** Structure and kernels only (no data). */
    List<Layer> layers(Map<String, String> reasons, Path scratch, List<String> notes) {
        Graph q = quantized.graph();
        List<Layer> out = new ArrayList<>();
        Map<String, String> kernels = kernels(scratch, notes);
        for (Node f : fp32.graph().nodes()) {
            if (!LAYER_OPS.contains(f.opType()) || f.outputs().isEmpty()) continue;
            Layer l = new Layer(f.name(), f.opType());
            l.fp32Tensor = f.output(0);
            Node n = q.node(f.name()).orElse(null);
            if (n == null) {
                l.why = reasons.getOrDefault(f.name(), "not in the result model");
                out.add(l);
                continue;
            }
            l.qName = n.name();
            l.qOp = n.opType();
            l.qTensor = n.output(0);
            boolean wq = weightQuantized(q, n), aq = activationQuantized(q, n.input(0));
            // integer arithmetic needs both operands quantized: int8 weights, or (MatMul) two quantized activations
            boolean bothActs = n.opType().equals("MatMul") && !wq && aq && activationQuantized(q, n.input(1));
            l.int8 = wq || bothActs;
            l.precision = l.int8 ? "int8" : "fp32";
            if (wq) {
                Node dq = q.producer(n.input(1));
                Tensor w = q.initializer(dq.input(0)).orElseThrow();
                l.weightBits = bits(w);
                long scales = q.initializer(dq.input(1)).map(Tensor::numElements).orElse(1L);
                l.granularity = scales > 1 ? "per-channel" : "per-tensor";
            }
            if (aq) {
                Node dq = q.producer(n.input(0));
                Node qn = dq == null ? null : q.producer(dq.input(0));
                if (qn != null && qn.opType().equals("QuantizeLinear")) {
                    l.actInput = qn.input(0);
                    double s = q.initializer(qn.input(1)).map(t -> (double) t.floats()[0]).orElse(Double.NaN);
                    Tensor zt = qn.inputs().size() > 2 ? q.initializer(qn.input(2)).orElse(null) : null;
                    int zp = zt == null ? 0 : (int) zt.to(DType.INT32).longs()[0];
                    boolean signed = zt != null && zt.dtype() == DType.INT8;
                    int qmin = signed ? -128 : 0, qmax = signed ? 127 : 255;
                    l.clipLo = (qmin - zp) * s;
                    l.clipHi = (qmax - zp) * s;
                }
            }
            if (l.int8) l.why = wq && aq ? "weights and activations quantized" : wq ? "weights quantized, activations float" : "both activations quantized";
            else l.why = reasons.getOrDefault(f.name(), aq ? "weights not quantized (reads a dequantized input)" : "no Q/DQ on its inputs");
            String k = kernels.get(n.name());
            if (k != null) {
                int c = k.indexOf(':');
                l.kernelDomain = c < 0 ? "" : k.substring(0, c);
                l.kernel = c < 0 ? k : k.substring(c + 1);
            }
            out.add(l);
        }
        return out;
    }

    /**
     * The op ONNX Runtime runs for each quantized-graph layer after its graph optimisation ({@code domain:op}),
     * from the optimized model it dumps: the node producing the layer's output, else the tensor its output
     * Q/Relu/bias Add chain ends in.
     */
    Map<String, String> kernels(Path scratch, List<String> notes) {
        Map<String, String> r = new HashMap<>();
        Path f = scratch.resolve("ort-optimized.onnx");
        Model opt;
        try {
            engine.open(quantized, SessionOptions.defaults().withThreads(1).withOptimizedModelPath(f)).close();
            opt = OnnxIO.read(f);
        } catch (RuntimeException e) {
            notes.add("ONNX Runtime's optimized graph could not be read: " + e.getMessage());
            return r;
        } finally {
            try { Files.deleteIfExists(f); Files.deleteIfExists(Path.of(f + ".data")); } catch (IOException ignored) { }
        }
        Graph q = quantized.graph(), o = opt.graph();
        Map<String, Node> optByName = new HashMap<>();
        Map<String, Node> byPrefix = new HashMap<>();
        for (Node n : o.nodes()) {
            optByName.put(n.name(), n);
            for (String suffix : List.of("_token_", "_quant")) {
                int i = n.name().lastIndexOf(suffix);
                if (i > 0) byPrefix.putIfAbsent(n.name().substring(0, i), n);
            }
        }
        for (Node n : q.nodes()) {
            if (!LAYER_OPS.contains(n.opType()) || n.outputs().isEmpty()) continue;
            // ORT names a fused node after the node it replaces ("conv_token_3", "conv_quant"); else follow the layer's output
            // through the nodes ORT folds into its kernel
            Node hit = optByName.get(n.name());
            if (hit == null) hit = byPrefix.get(n.name());
            String t = n.output(0);
            for (int hop = 0; hop < 4 && hit == null; hop++) {
                Node p = o.producer(t);
                if (p != null && !p.opType().equals("DequantizeLinear")) { hit = p; break; }
                List<Node> cs = q.consumers(t);
                if (cs.size() != 1) break;
                Node c = cs.get(0);
                if (!Set.of("QuantizeLinear", "Relu", "Add", "Clip", "DequantizeLinear").contains(c.opType())) break;
                t = c.output(0);
            }
            // layout changes around the kernel (NCHWc reorders, NHWC transposes) are not the kernel
            for (int hop = 0; hop < 3 && hit != null && LAYOUT_OPS.contains(hit.opType()); hop++) {
                Node p = o.producer(hit.input(0));
                if (p == null) break;
                hit = p;
            }
            if (hit != null) r.put(n.name(), (hit.domain().isEmpty() ? "" : hit.domain()) + ":" + hit.opType());
        }
        return r;
    }

    /** Measures isolated and accumulated errors of {@code layers}, and activation histograms, on {@code indices}. */
    void measure(List<Layer> layers, PipelineContext ctx, Dataset ds, int[] indices, int batchSize) {
        Graph fg = fp32.graph(), qg = quantized.graph();
        Set<String> fp32Known = new HashSet<>();
        for (ValueInfo v : fg.feedInputs()) fp32Known.add(v.name());
        for (Node n : fg.nodes()) fp32Known.addAll(n.outputs());
        // the analysis model: the quantized graph + an isolated copy of each quantized layer's chain
        Model a = quantized.copy();
        Graph ag = a.graph();
        Map<String, String> iso = new HashMap<>();
        LinkedHashSet<String> stops = new LinkedHashSet<>();
        List<Node> clones = new ArrayList<>();
        Map<Layer, String> isoOut = new LinkedHashMap<>();
        for (Layer l : layers) {
            if (!l.int8 || l.qName == null) continue;
            Node n = qg.node(l.qName).orElseThrow();
            if (iso.containsKey(n.output(0))) {            // already cloned: an earlier layer's chain runs through it
                isoOut.put(l, iso.get(n.output(0)));
                continue;
            }
            isoOut.put(l, cloneIsolated(n, qg, fp32Known, iso, stops, clones).output(0));
        }
        for (Node c : clones) ag.addNode(c);
        // what the FP32 run must hand out: layer outputs, isolated inputs, histogrammed activations
        LinkedHashSet<String> fOut = new LinkedHashSet<>();
        for (Layer l : layers) if (l.qName != null && l.fp32Tensor != null) fOut.add(l.fp32Tensor);
        fOut.addAll(stops);
        for (Layer l : layers) if (l.actInput != null && fp32Known.contains(l.actInput)) fOut.add(l.actInput);
        LinkedHashSet<String> aOut = new LinkedHashSet<>();
        for (Layer l : layers) if (l.qName != null && l.qTensor != null) aOut.add(l.qTensor);
        aOut.addAll(isoOut.values());

        SessionOptions so = SessionOptions.defaults().withThreads(threads);
        Session fs = engine.open(fp32, so.withExtraOutputs(List.copyOf(fOut)));
        Session as = null;
        try {
            int bs = Math.min(Feeds.batchSize(fp32, batchSize), Feeds.batchSize(quantized, batchSize));
            for (Batch b : ctx.batches(ds, indices, bs)) {
                Map<String, Tensor> fr = fs.run(Feeds.match(fp32, b.inputs()), fOut);
                if (as == null) {
                    for (String s : stops) {
                        Tensor t = fr.get(s);
                        List<org.ptq4j.spi.model.Dim> dims = new ArrayList<>();
                        if (t != null) for (int d = 0; d < t.rank(); d++) dims.add(org.ptq4j.spi.model.Dim.unknown());
                        ag.inputs().add(new ValueInfo(FP32_PREFIX + s, t == null ? DType.FLOAT : t.dtype(), t == null ? null : dims));
                    }
                    as = engine.open(a, so.withExtraOutputs(List.copyOf(aOut)));
                }
                Map<String, Tensor> feeds = new LinkedHashMap<>(Feeds.match(quantized, b.inputs()));
                for (String s : stops) feeds.put(FP32_PREFIX + s, fr.get(s));
                Map<String, Tensor> ar = as.run(feeds, aOut);
                for (Layer l : layers) {
                    if (l.qName == null) continue;
                    Tensor ref = fr.get(l.fp32Tensor);
                    if (ref == null || ref.dtype() != DType.FLOAT) continue;
                    if (accumulate(l.acc, ref, ar.get(l.qTensor))) l.accMeasured = true;
                    String io = isoOut.get(l);
                    if (io != null && accumulate(l.iso, ref, ar.get(io))) l.isoMeasured = true;
                    if (l.actInput != null && fr.get(l.actInput) != null) histogram(l, fr.get(l.actInput));
                }
            }
        } finally {
            fs.close();
            if (as != null) as.close();
        }
    }

    /** The tensor name that carries {@code t}'s isolated value: FP32 tensors as graph inputs, quantized-only chains cloned. */
    private static String isolated(String t, Graph qg, Set<String> fp32Known, Map<String, String> iso, Set<String> stops, List<Node> clones) {
        if (t.isEmpty() || qg.isInitializer(t)) return t;
        String known = iso.get(t);
        if (known != null) return known;
        String r;
        Node p = qg.producer(t);
        if (fp32Known.contains(t) || p == null) {
            if (p == null && !fp32Known.contains(t)) r = t;      // a graph input of the quantized model only: as is
            else {
                stops.add(t);
                r = FP32_PREFIX + t;
            }
        } else {
            cloneIsolated(p, qg, fp32Known, iso, stops, clones);
            r = iso.get(t);
        }
        iso.put(t, r);
        return r;
    }

    /** A copy of {@code n} reading the isolated values of its inputs, its outputs renamed {@link #ISO_PREFIX}; recorded in {@code iso} and {@code clones}. */
    private static Node cloneIsolated(Node n, Graph qg, Set<String> fp32Known, Map<String, String> iso, Set<String> stops, List<Node> clones) {
        List<String> ins = new ArrayList<>();
        for (String in : n.inputs()) ins.add(isolated(in, qg, fp32Known, iso, stops, clones));
        List<String> outs = new ArrayList<>();
        for (String o : n.outputs()) outs.add(o.isEmpty() ? "" : ISO_PREFIX + o);
        Node c = new Node(ISO_PREFIX + n.name(), n.opType(), n.domain(), ins, outs);
        n.attributes().values().forEach(c::set);
        clones.add(c);
        for (int i = 0; i < n.outputs().size(); i++) iso.put(n.output(i), outs.get(i));
        return c;
    }

    /** Adds one batch to the sums; false when the tensors do not match. */
    static boolean accumulate(double[] s, Tensor ref, Tensor q) {
        if (q == null || q.dtype() != DType.FLOAT || q.numElements() != ref.numElements()) return false;
        FloatBuffer r = ref.floatView(), x = q.floatView();
        double rr = 0, ee = 0, rq = 0, qq = 0;
        for (int i = 0, n = r.remaining(); i < n; i++) {
            double a = r.get(i), b = x.get(i), e = a - b;
            rr += a * a; ee += e * e; rq += a * b; qq += b * b;
        }
        s[0] += rr; s[1] += ee; s[2] += rq; s[3] += qq;
        return true;
    }

    private static void histogram(Layer l, Tensor t) {
        if (t.dtype() != DType.FLOAT) return;
        FloatBuffer v = t.floatView();
        int n = v.remaining();
        if (l.hist == null) {
            double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) { float f = v.get(i); if (f < mn) mn = f; if (f > mx) mx = f; }
            double lo = Double.isNaN(l.clipLo) ? mn : Math.min(mn, l.clipLo), hi = Double.isNaN(l.clipHi) ? mx : Math.max(mx, l.clipHi);
            if (!(hi > lo)) hi = lo + 1;
            l.hist = new long[BINS];
            l.histLo = lo;
            l.histHi = hi;
        }
        double w = (l.histHi - l.histLo) / BINS;
        for (int i = 0; i < n; i++) {
            float f = v.get(i);
            int b = (int) Math.floor((f - l.histLo) / w);
            l.hist[Math.max(0, Math.min(BINS - 1, b))]++;
            if (f < l.clipLo) l.below++;
            else if (f > l.clipHi) l.above++;
        }
        l.total += n;
    }

    /** Counts argmax classes of a [batch, classes] float output (classification models); returns the rows seen. */
    static long argmaxClasses(Map<String, Tensor> fr, Graph fg, Map<Integer, Integer> classes) {
        if (fg.outputs().size() != 1) return 0;
        Tensor t = fr.get(fg.outputs().get(0).name());
        if (t == null || t.dtype() != DType.FLOAT || t.rank() != 2 || t.dim(1) < 3) return 0;
        FloatBuffer v = t.floatView();
        int rows = (int) t.dim(0), k = (int) t.dim(1);
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int c = 1; c < k; c++) if (v.get(r * k + c) > v.get(r * k + best)) best = c;
            classes.merge(best, 1, Integer::sum);
        }
        return rows;
    }

    /** Bits a quantized weight uses: 7 when every |q| <= 64 (the no-VNNI grid), else its storage width. */
    static int bits(Tensor w) {
        if (w.dtype() != DType.INT8 && w.dtype() != DType.UINT8) return w.dtype().byteSize() * 8;
        var b = w.bytes();
        int max = 0, min = 0;
        for (int i = 0, n = b.remaining(); i < n; i++) {
            int v = w.dtype() == DType.INT8 ? b.get(i) : b.get(i) & 0xff;
            if (v > max) max = v;
            if (v < min) min = v;
        }
        if (w.dtype() == DType.UINT8) return 8;
        return Math.max(max, -min) <= 64 ? 7 : 8;
    }

    static boolean weightQuantized(Graph q, Node n) {
        if (n.inputs().size() < 2) return false;
        Node dq = q.producer(n.input(1));
        return dq != null && dq.opType().equals("DequantizeLinear") && q.isInitializer(dq.input(0));
    }

    static boolean activationQuantized(Graph q, String t) {
        Node dq = q.producer(t);
        if (dq == null || !dq.opType().equals("DequantizeLinear") || q.isInitializer(dq.input(0))) return false;
        Node qn = q.producer(dq.input(0));
        return qn != null && qn.opType().equals("QuantizeLinear");
    }

    /** Per-output-channel min / max of a layer's FP32 weight (null when it has no weight initializer). */
    static float[][] weightRanges(Model fp32, String layer) {
        Node n = fp32.graph().node(layer).orElse(null);
        if (n == null || n.inputs().size() < 2) return null;
        Tensor w = fp32.graph().initializer(n.input(1)).orElse(null);
        if (w == null || w.dtype() != DType.FLOAT || w.rank() < 2) return null;
        int axis = switch (n.opType()) {
            case "Gemm" -> n.attrLong("transB", 0) == 1 ? 0 : 1;
            case "MatMul" -> w.rank() - 1;
            case "ConvTranspose" -> 1;
            default -> 0;
        };
        long[] s = w.shape();
        int ch = (int) s[axis];
        long inner = 1;
        for (int i = axis + 1; i < s.length; i++) inner *= s[i];
        float[] v = w.floats();
        float[] mn = new float[ch], mx = new float[ch];
        java.util.Arrays.fill(mn, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(mx, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < v.length; i++) {
            int c = (int) ((i / inner) % ch);
            if (v[i] < mn[c]) mn[c] = v[i];
            if (v[i] > mx[c]) mx[c] = v[i];
        }
        return new float[][]{mn, mx};
    }

    /** The {@code k} int8 layers with the lowest isolated SQNR (worst first). */
    static List<Layer> worst(List<Layer> layers, int k) {
        return layers.stream().filter(l -> l.int8 && l.isoMeasured)
                .sorted(Comparator.comparingDouble(Layer::isoSqnr)).limit(k).toList();
    }
}
