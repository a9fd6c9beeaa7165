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
 * graph, so ONNX Runtime hands back one sample's worth of numbers per batch, and the quantized layers
 * keep their integer kernels (the taps only read tensors; they take no node away from a fusion).
 * Where a layer's input is the DequantizeLinear of an 8-bit tensor, that tensor is summed by a
 * {@code MatMulInteger} with a row of ones (one integer read, no float copy; the zero point is
 * subtracted inside, the scale applied here); else the float tensor by a {@code ReduceSum} (for a
 * MatMul over a sequence: per feature, each sample averaged over its positions first).
 * <p>
 * The first pass measures the samples {@code head}; a later pass, on the model as corrected so far,
 * measures only its first {@code k2} samples and adds the change it sees there to the first pass's
 * means: a correction moves the samples' means much alike, so the change needs fewer samples than
 * the means themselves.
 */
final class MeasuringPass {
    private static final String ONES = "bc_ones";

    private final List<QuantizedLayer> layers;
    private final Graph structure;
    /** Shape of each layer input's mean ([1, ...]), as the FP32 statistics have it. */
    private final Map<String, long[]> shapes;
    /** The first pass's samples, how many of them the later passes measure, its sums over those and its means. */
    private int[] head;
    private int k2;
    private Map<String, double[]> firstHead;
    private Map<String, Tensor> first;

    MeasuringPass(Graph structure, List<QuantizedLayer> layers, Map<String, long[]> shapes) {
        this.structure = structure;
        this.layers = layers;
        this.shapes = shapes;
    }

    /** The first pass, over {@code head}: the mean of each layer input ([1, ...]) by tensor; its first {@code k2} samples are summed apart. */
    Map<String, Tensor> first(Model current, Dataset ds, int[] head, int k2, PipelineContext ctx) {
        Tapped t = tap(current);
        Map<String, double[]> a = new HashMap<>(), b = new HashMap<>();
        try (Session s = ctx.engine().open(t.model, SessionOptions.defaults().withThreads(ctx.threads()));
             Progress p = ctx.progress("Measuring the quantized model", head.length)) {
            run(s, t, ds, Arrays.copyOfRange(head, 0, k2), a, ctx, p);
            if (k2 < head.length) run(s, t, ds, Arrays.copyOfRange(head, k2, head.length), b, ctx, p);
        }
        this.head = head;
        this.k2 = k2;
        firstHead = a;
        first = new HashMap<>();
        t.taps.forEach((x, tap) -> {
            double[] sa = a.get(x), sb = b.get(x);
            float[] m = new float[sa.length];
            for (int i = 0; i < m.length; i++) m[i] = (float) ((sa[i] + (sb == null ? 0 : sb[i])) * tap.unit() / head.length);
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
        Tapped t = tap(current);
        Map<String, double[]> a = new HashMap<>();
        try (Session s = ctx.engine().open(t.model, SessionOptions.defaults().withThreads(ctx.threads()));
             Progress p = ctx.progress("Measuring the corrected model", k2)) {
            run(s, t, ds, Arrays.copyOfRange(head, 0, k2), a, ctx, p);
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

    private void run(Session s, Tapped t, Dataset ds, int[] idx, Map<String, double[]> sums, PipelineContext ctx, Progress p) {
        List<String> wanted = t.taps.values().stream().map(Tap::output).toList();
        for (Batch b : ctx.batches(ds, idx, batchSize(t.model, ctx.batchSize()))) {
            Map<String, Tensor> feeds = feeds(t.model, b.inputs());
            if (t.ones) {
                byte[] ones = new byte[b.size()];
                Arrays.fill(ones, (byte) 1);
                feeds.put(ONES, Tensor.ofBytes(DType.UINT8, new long[]{1, b.size()}, ones));
            }
            Map<String, Tensor> out = s.run(feeds, wanted);
            t.taps.forEach((x, tap) -> {
                float[] f = out.get(tap.output()).floats();
                double[] acc = sums.computeIfAbsent(x, k -> new double[f.length]);
                for (int i = 0; i < acc.length; i++) acc[i] += f[i];
            });
            p.advance(b.size());
        }
    }

    /** The batch size the model takes: a fixed leading dimension of its inputs, else {@code requested}. */
    private static int batchSize(Model model, int requested) {
        for (ValueInfo v : model.graph().feedInputs())
            if (!v.name().equals(ONES) && v.shape() != null && !v.shape().isEmpty() && v.shape().get(0).isFixed()) return (int) v.shape().get(0).value();
        return Math.max(1, requested);
    }

    /** The model's feed inputs from a batch; a single-input model takes a batch's single tensor under any name. */
    private static Map<String, Tensor> feeds(Model model, Map<String, Tensor> batch) {
        List<ValueInfo> want = model.graph().feedInputs().stream().filter(v -> !v.name().equals(ONES)).toList();
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

    /** A copy of the model with the taps (by tapped tensor) as outputs; {@code ones}: it reads {@value #ONES}. */
    private record Tapped(Model model, Map<String, Tap> taps, boolean ones) {}

    /** The measuring model for {@code current}: a copy with the taps as its outputs (and, for the integer sums, a {@value #ONES} input). */
    Model tappedModel(Model current) { return tap(current).model(); }

    private Tapped tap(Model current) {
        Model m = current.copy();
        Graph g = m.graph();
        Names names = new Names(g);
        long opset = current.opset();
        Map<String, Tap> taps = new LinkedHashMap<>();
        boolean ones = false;
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
            taps.put(x, new Tap(reduce(g, names, "ReduceSum", src, List.of(0L), opset), 1f));
        }
        if (ones) g.inputs().add(new ValueInfo(ONES, DType.UINT8, List.of(Dim.of(1), Dim.named("bc_batch"))));
        g.touch();
        // only what the taps need (the model's own outputs and whatever follows the last layer input are left out)
        return new Tapped(SubModels.prefix(m, taps.values().stream().map(Tap::output).toList()), taps, ones);
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

    /** Sum over the batch of {@code q - zeroPoint} (8-bit), element by element, as INT32 [1, elements]: MatMulInteger(ones [1, N], q [N, -1]). */
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
