package org.ptq4j.plugins.biascorrection;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Passes of the quantized model that measure each layer's mean activation input, element by element,
 * without keeping any activation: a copy of the model gets nodes that sum over the batch inside the
 * graph, so ONNX Runtime hands back two samples' worth of numbers per batch, and the quantized layers
 * keep their integer kernels (the taps only read tensors; they take no node away from a fusion).
 * Where a layer's input is the DequantizeLinear of an 8-bit tensor, that tensor is summed by a
 * {@code MatMulInteger} with two rows of 0/1 (one integer read, no float copy; the zero point is
 * subtracted inside, the scale applied here); else the float tensor by a {@code MatMul} (for a
 * MatMul over a sequence: per feature, each sample averaged over its positions first). The first row
 * sums the whole batch, the second only the samples a later pass compares with, so one run does both.
 * <p>
 * The first pass measures the samples {@code head}; a later pass, on the model as corrected so far,
 * measures only its first {@code k2} samples and adds the change it sees there to the first pass's
 * means: a correction moves the samples' means much alike, so the change needs fewer samples than
 * the means themselves.
 * <p>
 * <b>One session for all passes.</b> Opening an ONNX Runtime session on a quantized model costs
 * about as much as running it over the first pass's samples, so the measuring model takes each
 * layer's bias as an input (a {@link Slot}) and a later pass feeds the corrected biases to the same
 * session. ONNX Runtime folds a <i>constant</i> bias into its symmetric int8 convolution when it
 * packs the weights and ignores a bias that is not constant there (measured: logits off by up to 13); so a
 * Conv with a bias input also reads its activation zero point from an input (the same values), which
 * makes ONNX Runtime take its general integer convolution, which reads the bias on every run. The
 * kernels stay fused; {@code MeasuringPassTest} checks the later passes against a plain measurement
 * of the corrected model. A later pass opens a session of its own (the original way) only when a
 * correction changed what a slot cannot express (a bias added where there was none).
 * <p>
 * Holds the session between passes: close it.
 */
final class MeasuringPass implements AutoCloseable {
    /** The row matrices the taps multiply the batch by ([2, batch]: all ones; ones for the samples summed apart): 8-bit and float. */
    private static final String ONES = "bc_ones", ONES_FLOAT = "bc_ones_float";

    private final List<QuantizedLayer> layers;
    private final Graph structure;
    /** Shape of each layer input's mean ([1, ...]), as the FP32 statistics have it. */
    private final Map<String, long[]> shapes;
    /** The first pass's samples, how many of them the later passes measure, its sums over those and its means. */
    private int[] head;
    private int k2;
    private Map<String, double[]> firstHead;
    private Map<String, Tensor> first;
    /** The first pass's session and model, kept for the later passes (null once a later pass could not use them). */
    private Session session;
    private Tapped tapped;

    MeasuringPass(Graph structure, List<QuantizedLayer> layers, Map<String, long[]> shapes) {
        this.structure = structure;
        this.layers = layers;
        this.shapes = shapes;
    }

    /** The first pass, over {@code head}: the mean of each layer input ([1, ...]) by tensor; its first {@code k2} samples are summed apart. */
    Map<String, Tensor> first(Model current, Dataset ds, int[] head, int k2, PipelineContext ctx) {
        close();
        Tapped t = tap(current, true);
        Map<String, double[]> all = new HashMap<>(), a = new HashMap<>();
        Session s = ctx.engine().open(t.model, SessionOptions.defaults().withThreads(ctx.threads()));
        try (Progress p = ctx.progress("Measuring the quantized model", head.length)) {
            run(s, t, t.feeds(current), ds, head, k2, all, a, ctx, p);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        session = s;
        tapped = t;
        this.head = head;
        this.k2 = k2;
        firstHead = a;
        first = new HashMap<>();
        t.taps.forEach((x, tap) -> {
            double[] sum = all.get(x);
            float[] m = new float[sum.length];
            for (int i = 0; i < m.length; i++) m[i] = (float) (sum[i] * tap.unit() / head.length);
            first.put(x, Tensor.ofFloats(shapes.get(x), m));
        });
        return first;
    }

    /**
     * A later pass on {@code current} over the first {@code k2} samples of the first pass's: the first
     * pass's means moved by the change seen on those samples.
     */
    Map<String, Tensor> again(Model current, Dataset ds, PipelineContext ctx) {
        if (first == null) throw new IllegalStateException("no first pass");
        Map<String, double[]> a = new HashMap<>(), unused = new HashMap<>(); // every sample is summed apart: the second row repeats the first
        int[] idx = Arrays.copyOfRange(head, 0, k2);
        Map<String, Tensor> slots = tapped == null ? null : tapped.feeds(current);
        Tapped t;
        try (Progress p = ctx.progress("Measuring the corrected model", k2)) {
            if (slots != null) {
                t = tapped;
                run(session, t, slots, ds, idx, k2, a, unused, ctx, p);
            } else {
                close(); // the corrections left the slots behind: a session of the corrected model itself
                t = tap(current, false);
                try (Session s = ctx.engine().open(t.model, SessionOptions.defaults().withThreads(ctx.threads()))) {
                    run(s, t, Map.of(), ds, idx, k2, a, unused, ctx, p);
                }
            }
        }
        Map<String, Tensor> means = new HashMap<>();
        t.taps.forEach((x, tap) -> {
            double[] now = a.get(x), then = firstHead.get(x);
            float[] m = first.get(x).floats();
            for (int i = 0; i < m.length; i++) m[i] += (float) ((now[i] - then[i]) * tap.unit() / k2);
            means.put(x, Tensor.ofFloats(first.get(x).shape(), m));
        });
        return means;
    }

    /** Whether the first pass's session is kept for the later passes. */
    boolean reusesSession() { return session != null; }

    @Override
    public void close() {
        if (session != null) session.close();
        session = null;
        tapped = null;
    }

    /**
     * One pass over {@code idx}: each tap's sum over all of them into {@code sums}, and over the first
     * {@code apart} of them into {@code sumsApart} (both rows of the taps' product, so one run per batch).
     */
    private void run(Session s, Tapped t, Map<String, Tensor> slots, Dataset ds, int[] idx, int apart,
                     Map<String, double[]> sums, Map<String, double[]> sumsApart, PipelineContext ctx, Progress p) {
        List<String> wanted = t.taps.values().stream().map(Tap::output).toList();
        int seen = 0;
        for (Batch b : ctx.batches(ds, idx, batchSize(t.model, ctx.batchSize()))) {
            Map<String, Tensor> feeds = feeds(t.model, b.inputs());
            feeds.putAll(slots);
            int n = b.size();
            byte[] rows = new byte[2 * n];
            float[] rowsFloat = new float[2 * n];
            for (int i = 0; i < n; i++) {
                rows[i] = 1;
                rowsFloat[i] = 1;
                if (seen + i < apart) { rows[n + i] = 1; rowsFloat[n + i] = 1; }
            }
            seen += n;
            if (t.ones) feeds.put(ONES, Tensor.ofBytes(DType.UINT8, new long[]{2, n}, rows));
            if (t.onesFloat) feeds.put(ONES_FLOAT, Tensor.ofFloats(new long[]{2, n}, rowsFloat));
            Map<String, Tensor> out = s.run(feeds, wanted);
            t.taps.forEach((x, tap) -> {
                float[] f = out.get(tap.output()).floats();
                int e = f.length / 2;
                double[] acc = sums.computeIfAbsent(x, k -> new double[e]), accApart = sumsApart.computeIfAbsent(x, k -> new double[e]);
                for (int i = 0; i < e; i++) {
                    acc[i] += f[i];
                    accApart[i] += f[e + i];
                }
            });
            p.advance(n);
        }
    }

    /** The batch size the model takes: a fixed leading dimension of its inputs, else {@code requested}. */
    private static int batchSize(Model model, int requested) {
        for (ValueInfo v : model.graph().feedInputs())
            if (isData(v) && v.shape() != null && !v.shape().isEmpty() && v.shape().get(0).isFixed()) return (int) v.shape().get(0).value();
        return Math.max(1, requested);
    }

    /** Whether a measuring model's input is one of the model's own (data), not a row matrix or a slot. */
    private static boolean isData(ValueInfo v) {
        return !v.name().equals(ONES) && !v.name().equals(ONES_FLOAT) && !v.name().startsWith(SLOT);
    }

    /** The model's feed inputs from a batch; a single-input model takes a batch's single tensor under any name. */
    private static Map<String, Tensor> feeds(Model model, Map<String, Tensor> batch) {
        List<ValueInfo> want = model.graph().feedInputs().stream().filter(MeasuringPass::isData).toList();
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (want.size() == 1 && batch.size() == 1) {
            out.put(want.get(0).name(), batch.values().iterator().next());
            return out;
        }
        for (ValueInfo v : want) {
            Tensor t = batch.get(v.name());
            if (t == null) throw new PtqException("model input '" + v.name() + "' gets no data: the dataset provides " + batch.keySet());
            out.put(v.name(), t);
        }
        return out;
    }

    /** A tap: its output in the tapped model and the factor from its summed value to the tensor's sum. */
    private record Tap(String output, float unit) {}

    /** Prefix of the measuring model's inputs that are not data: bias changes and activation zero points ({@link Slot}). */
    private static final String SLOT = "bc_slot_";

    /**
     * An input of the measuring model standing for a layer's bias ({@code layer} set: fed the bias the
     * layer has now; {@code base} the one it had, for its shape and type), or for a constant fed as it
     * is ({@code layer} null: a Conv's activation zero point, {@code base} its value).
     */
    private record Slot(String input, Layer layer, Tensor base) {}

    /**
     * A copy of the model with the taps (by tapped tensor) as outputs; {@code ones}, {@code onesFloat}: it
     * reads {@value #ONES}, {@value #ONES_FLOAT};
     * {@code slots}: its inputs that are not data (none when the model takes its biases as constants);
     * {@code bare}: its layers that had no bias to make a slot of.
     */
    private record Tapped(Model model, Map<String, Tap> taps, boolean ones, boolean onesFloat, List<Slot> slots, List<Layer> bare) {
        /**
         * The slot feeds for the biases of {@code current}, or null when a slot cannot express them
         * (a layer whose bias is gone, or that got one where it had none).
         */
        Map<String, Tensor> feeds(Model current) {
            Map<String, Tensor> feeds = new HashMap<>();
            for (Slot s : slots) {
                if (s.layer() == null) {
                    feeds.put(s.input(), s.base());
                    continue;
                }
                Tensor now = biasValues(current.graph(), s.layer());
                if (now == null || !Arrays.equals(now.shape(), s.base().shape()) || now.dtype() != s.base().dtype()) return null;
                feeds.put(s.input(), now);
            }
            // a layer that had no bias must still have none (apply_for_all_nodes adds one)
            for (Layer l : bare) if (biasValues(current.graph(), l) != null) return null;
            return feeds;
        }
    }

    /** The measuring model for {@code current}: a copy with the taps as its outputs (and, for the integer sums, a {@value #ONES} input). */
    Model tappedModel(Model current) { return tap(current, true).model(); }

    /** The tensor holding {@code layer}'s bias in {@code g} (INT32 behind its DequantizeLinear, or float), null without one. */
    private static Tensor biasValues(Graph g, Layer layer) {
        QuantizedLayer q = QuantizedLayer.find(layer, g);
        QuantizedLayer.BiasStorage at = q == null ? null : q.biasStorage(g);
        return at == null ? null : g.initializer(at.initializer()).orElse(null);
    }

    private Tapped tap(Model current, boolean slots) {
        Model m = current.copy();
        Graph g = m.graph();
        Names names = new Names(g);
        long opset = current.opset();
        Map<String, Tap> taps = new LinkedHashMap<>();
        boolean ones = false, onesFloat = false;
        for (QuantizedLayer l : layers) {
            String x = l.node().input(0);
            if (taps.containsKey(x)) continue;
            Node dq = g.producer(x);
            if (MeanModel.elementwise(l.layer()) && integerSum(g, dq, opset)) {
                float scale = g.initializer(dq.input(1)).get().floats()[0];
                taps.put(x, new Tap(sumInteger(g, names, dq.input(0), dq.input(2)), scale));
                ones = true;
                continue;
            }
            String src = x;
            if (!MeanModel.elementwise(l.layer())) {
                int rank = Layer.rank(structure, x, 8);
                List<Long> axes = new ArrayList<>();
                for (long a = 1; a < rank - 1; a++) axes.add(a);
                src = reduce(g, names, "ReduceMean", src, axes, opset); // each sample's mean per feature
            }
            taps.put(x, new Tap(sumFloat(g, names, src), 1f));
            onesFloat = true;
        }
        if (ones) g.inputs().add(new ValueInfo(ONES, DType.UINT8, List.of(Dim.of(2), Dim.named("bc_batch"))));
        if (onesFloat) g.inputs().add(new ValueInfo(ONES_FLOAT, DType.FLOAT, List.of(Dim.of(2), Dim.named("bc_batch"))));
        List<Slot> made = slots ? slots(g, names) : List.of();
        g.touch();
        // only what the taps need (the model's own outputs and whatever follows the last layer input are left out)
        Model prefix = SubModels.prefix(m, taps.values().stream().map(Tap::output).toList());
        Set<String> inputs = new HashSet<>();
        for (ValueInfo v : prefix.graph().inputs()) inputs.add(v.name());
        List<Slot> kept = made.stream().filter(s -> inputs.contains(s.input())).toList();
        Set<String> slotted = new HashSet<>();
        for (Slot s : kept) if (s.layer() != null) slotted.add(s.layer().name());
        List<Layer> bare = layers.stream().map(QuantizedLayer::layer)
                .filter(l -> !slotted.contains(l.name()) && prefix.graph().node(l.name()).isPresent()).toList();
        return new Tapped(prefix, taps, ones, onesFloat, kept, bare);
    }

    /**
     * Turns each layer's bias into an input, and gives a Conv
     * with such a bias its own DequantizeLinear of its activation whose zero point is an input too (see
     * the class comment). Layers without a bias get no slot.
     */
    private List<Slot> slots(Graph g, Names names) {
        List<Slot> out = new ArrayList<>();
        Map<String, String> zeroPoints = new HashMap<>(); // zero-point initializer -> its input
        for (QuantizedLayer l : layers) {
            QuantizedLayer q = QuantizedLayer.find(l.layer(), g);
            QuantizedLayer.BiasStorage at = q == null ? null : q.biasStorage(g);
            Tensor base = at == null ? null : g.initializer(at.initializer()).orElse(null);
            if (base == null) continue;
            boolean conv = q.node().opType().equals("Conv");
            Node xdq = conv ? g.producer(q.node().input(0)) : null;
            // a Conv whose activation zero point cannot be made an input keeps its bias constant (no slot: a later
            // pass that changes it opens a session of its own), since ORT's symmetric kernel would drop a fed bias
            if (conv && (xdq == null || !xdq.opType().equals("DequantizeLinear") || xdq.input(2).isEmpty() || !g.isInitializer(xdq.input(2)))) continue;
            String input = names.fresh(SLOT + "bias_" + out.size());
            java.util.Collections.replaceAll(at.reader().inputs(), at.initializer(), input);
            g.touch();
            g.inputs().add(new ValueInfo(input, base.dtype(), Arrays.stream(base.shape()).mapToObj(Dim::of).toList()));
            out.add(new Slot(input, l.layer(), base));
            if (!conv) continue;
            String zp = xdq.input(2);
            String zpInput = zeroPoints.computeIfAbsent(zp, z -> {
                String in = names.fresh(SLOT + "zero_point_" + zeroPoints.size());
                Tensor v = g.initializer(z).get();
                g.inputs().add(new ValueInfo(in, v.dtype(), Arrays.stream(v.shape()).mapToObj(Dim::of).toList()));
                out.add(new Slot(in, null, v));
                return in;
            });
            String x = names.fresh(xdq.output(0) + "_" + SLOT + "dq");
            Node own = xdq.copy().name(names.fresh(xdq.name() + "_" + SLOT + "dq"));
            own.inputs().set(2, zpInput);
            own.outputs().set(0, x);
            g.addNodeBefore(q.node(), own);
            q.node().inputs().set(0, x);
        }
        return out;
    }

    /** Whether {@code dq} is a per-tensor DequantizeLinear of an 8-bit activation, whose input the integer sum can read. */
    private static boolean integerSum(Graph g, Node dq, long opset) {
        if (dq == null || !dq.opType().equals("DequantizeLinear") || opset < 10 || g.isInitializer(dq.input(0))) return false;
        Tensor s = g.initializer(dq.input(1)).orElse(null);
        if (s == null || s.numElements() != 1) return false;
        if (dq.input(2).isEmpty()) return true;
        Tensor z = g.initializer(dq.input(2)).orElse(null);
        return z != null && z.numElements() == 1 && (z.dtype() == DType.UINT8 || z.dtype() == DType.INT8);
    }

    /** The two row sums over the batch of a float tensor, element by element, as [2, elements]: MatMul(ones [2, N], x [N, -1]). */
    private static String sumFloat(Graph g, Names names, String x) {
        String to = names.fresh("bc_rows"), flat = names.fresh(x + "_bc_rows"), out = names.fresh(x + "_bc_sum");
        g.initializers().put(to, Tensor.ofLongs(new long[]{2}, new long[]{0, -1}));
        g.addNode(Node.of(names.fresh("bc_tap_reshape"), "Reshape", List.of(x, to), List.of(flat)));
        g.addNode(Node.of(names.fresh("bc_tap_sum"), "MatMul", List.of(ONES_FLOAT, flat), List.of(out)));
        return out;
    }

    /** The two row sums over the batch of {@code q - zeroPoint} (8-bit), element by element, as INT32 [2, elements]: MatMulInteger(ones [2, N], q [N, -1]). */
    private static String sumInteger(Graph g, Names names, String q, String zeroPoint) {
        String to = names.fresh("bc_rows"), flat = names.fresh(q + "_bc_rows"), out = names.fresh(q + "_bc_sum");
        g.initializers().put(to, Tensor.ofLongs(new long[]{2}, new long[]{0, -1}));
        g.addNode(Node.of(names.fresh("bc_tap_reshape"), "Reshape", List.of(q, to), List.of(flat)));
        List<String> in = new ArrayList<>(List.of(ONES, flat));
        if (!zeroPoint.isEmpty()) { in.add(""); in.add(zeroPoint); }
        g.addNode(Node.of(names.fresh("bc_tap_sum"), "MatMulInteger", in, List.of(out)));
        g.valueInfos().put(out, new ValueInfo(out, DType.INT32, null));
        return out;
    }

    /** {@code op(x, axes, keepdims=1)} appended to {@code g} (axes as an input from opset 13 for ReduceSum, 18 for the others). */
    static String reduce(Graph g, Names names, String op, String x, List<Long> axes, long opset) {
        if (axes.isEmpty()) return x;
        String out = names.fresh(x + "_bc_" + op.toLowerCase(java.util.Locale.ROOT));
        Node r;
        if (opset >= (op.equals("ReduceSum") ? 13 : 18)) {
            String a = names.fresh("bc_axes");
            g.initializers().put(a, Tensor.ofLongs(new long[]{axes.size()}, axes.stream().mapToLong(Long::longValue).toArray()));
            r = Node.of(names.fresh("bc_" + op), op, List.of(x, a), List.of(out));
        } else {
            r = Node.of(names.fresh("bc_" + op), op, List.of(x), List.of(out)).set(Attribute.ints("axes", axes));
        }
        r.set(Attribute.of("keepdims", 1L));
        g.addNode(r);
        return out;
    }

    /** Fresh names that clash with nothing in a graph (the graph itself is not touched). */
    static final class Names {
        private final Set<String> used = new HashSet<>();

        Names(Graph g) {
            for (Node n : g.nodes()) { used.add(n.name()); used.addAll(n.inputs()); used.addAll(n.outputs()); }
            used.addAll(g.initializers().keySet());
            for (ValueInfo v : g.inputs()) used.add(v.name());
            for (ValueInfo v : g.outputs()) used.add(v.name());
        }

        String fresh(String base) {
            String c = base;
            for (int i = 1; !used.add(c); i++) c = base + "_" + i;
            return c;
        }
    }
}
