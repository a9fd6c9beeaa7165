package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.Report;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.Interleaved;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runtime in the loop ({@code speed_check}, on by default for {@code target_device: HOST}): keeps in FP32 the groups
 * of layers whose INT8 form makes the model slower on this CPU. On x86 CPUs without VNNI, ONNX Runtime's int8
 * kernels run at about FP32 speed, and the Q/DQ, requantization and layout changes around small layers (depthwise
 * convs, squeeze-excite) can cost more than they save.
 * <p>
 * Layers are grouped by what their kernel does ({@link #kind}: depthwise Conv, squeeze-excite Conv, 1x1 Conv, kxk
 * Conv, Gemm, MatMul, and each integer arithmetic op type), because single layers are below the noise of whole-model timing. Starting
 * from the fully quantized model, each group, largest first, is tried in FP32: the two models run interleaved on one
 * calibration sample (batch 1, the pipeline's threads), and the group stays FP32 when that makes the model faster
 * by more than {@link #MARGIN} (median latency). When the result is still slower than the FP32 model, a second pass
 * keeps any group still in INT8 whose FP32 form gains at all (several small losses add up). The decision rule is
 * {@link #decide}; the report gets a row per trial with both medians, the groups kept and the final latency against
 * the FP32 model.
 */
final class SpeedCheck {
    /** Relative gain a candidate must show to be kept: above the run-to-run noise of medians. */
    static final double MARGIN = 0.03;
    /** Wall time spent timing each model of a comparison (runs adapt to the model's latency). */
    private static final double SECONDS_PER_MODEL = 0.6;

    /** Report keys: the table of trials and the line naming the groups kept in FP32. */
    static final String TABLE = "speed check by layer group", KEPT = "kept in FP32 for speed";

    private SpeedCheck() {}

    /** The chosen plan and its model; {@code keptFp32}: node names kept in FP32 for speed. */
    record Result(QdqPlan plan, Model model, List<String> keptFp32) {}

    /** One trial: median ms of the current model and of the current model with the group in FP32, in pass 1 or 2. */
    record Trial(String group, int layers, double int8Ms, double fp32Ms, boolean kept, int pass) {}

    /** Median latency in ms of each model, measured side by side. */
    interface Timer {
        double[] medians(List<Model> models);
    }

    /**
     * @param fp32      the FP32 model (the speed the result must not fall below)
     * @param full      the plan quantizing everything the configuration allows
     * @param planFor   the plan with these extra node names kept in FP32
     * @param write     writes a plan's model
     * @param timer     the clock; null: the engine, on the first calibration sample
     */
    static Result run(Model fp32, QdqPlan full, Model fullModel, Function<List<String>, QdqPlan> planFor,
                      Function<QdqPlan, Model> write, Timer timer, PipelineContext ctx, String section) {
        if (timer == null) {
            Map<String, Tensor> feeds = feeds(ctx);
            if (feeds == null) {
                ctx.report().note(section(section), "no calibration sample to time with; nothing kept in FP32 for speed");
                return new Result(full, fullModel, List.of());
            }
            SessionOptions opts = SessionOptions.defaults().withThreads(ctx.threads());
            timer = models -> time(ctx.engine(), models, feeds, opts);
        }
        Report report = ctx.report();
        Map<String, List<String>> groups = groups(full);
        List<String> kept = new ArrayList<>();
        List<Trial> trials = new ArrayList<>();
        QdqPlan plan = full;
        Model current = fullModel;
        try (Progress progress = ctx.progress("speed check (timing " + groups.size() + " layer groups in FP32 vs INT8 on this CPU)", groups.size() + 1)) {
            // pass 1 keeps a group in FP32 when that gains more than MARGIN; when the result is still slower than
            // FP32, pass 2 takes any gain on the groups still in INT8 (single groups may each gain little)
            double[] vsFp32 = null;
            for (int pass = 1; pass <= 2; pass++) {
                double margin = pass == 1 ? MARGIN : 0;
                for (Map.Entry<String, List<String>> g : groups.entrySet()) {
                    if (kept.containsAll(g.getValue())) continue;
                    if (pass == 2 && trials.stream().noneMatch(t -> t.group().equals(g.getKey()))) continue;   // its plan could not be written
                    List<String> names = new ArrayList<>(kept);
                    names.addAll(g.getValue());
                    QdqPlan candPlan;
                    Model cand;
                    try {
                        candPlan = planFor.apply(names);
                        cand = write.apply(candPlan);
                    } catch (RuntimeException e) {               // e.g. a range the full plan did not need
                        report.note(section(section), "group " + g.getKey() + " not tried: " + e.getMessage());
                        if (pass == 1) progress.advance(1);
                        continue;
                    }
                    double[] ms = timer.medians(List.of(current, cand));
                    boolean keep = decide(ms[0], ms[1], margin);
                    trials.add(new Trial(g.getKey(), g.getValue().size(), ms[0], ms[1], keep, pass));
                    if (keep) {
                        kept.addAll(g.getValue());
                        plan = candPlan;
                        current = cand;
                    }
                    if (pass == 1) progress.advance(1);
                }
                vsFp32 = timer.medians(List.of(fp32, current));
                if (pass == 1) progress.advance(1);
                if (vsFp32[1] <= vsFp32[0] * (1 + MARGIN)) break;
            }
            report(report, section, trials, vsFp32, ctx.threads());
        }
        for (String n : kept) plan.skipped.put(n, "speed_check: its group runs faster in FP32 on this CPU");
        return new Result(plan, current, List.copyOf(kept));
    }

    /** Whether a candidate timed {@code candidateMs} against the current {@code currentMs} is kept: faster by more than {@code margin}. */
    static boolean decide(double currentMs, double candidateMs, double margin) {
        return candidateMs < currentMs * (1 - margin);
    }

    /**
     * Groups of quantized nodes by kernel kind, largest group first (ties in graph order): layers by
     * {@link #kind}, integer arithmetic and pooling by op type. Data movement (Flatten, Reshape, ...) costs the
     * same either way and follows its neighbours.
     */
    static Map<String, List<String>> groups(QdqPlan plan) {
        Map<String, List<String>> g = new LinkedHashMap<>();
        for (QdqPlan.Layer l : plan.layers) g.computeIfAbsent(kind(l.node(), plan.graph()), k -> new ArrayList<>()).add(l.node().name());
        Map<String, Node> byName = new LinkedHashMap<>();
        for (Node n : plan.graph().nodes()) byName.putIfAbsent(n.name(), n);
        for (String n : plan.quantizedOther) {
            Node node = byName.get(n);
            if (node != null && !QdqPlan.MOVE_OPS.contains(node.opType())) g.computeIfAbsent(node.opType(), k -> new ArrayList<>()).add(n);
        }
        List<Map.Entry<String, List<String>>> e = new ArrayList<>(g.entrySet());
        e.sort(Comparator.comparingInt((Map.Entry<String, List<String>> x) -> -x.getValue().size()));
        Map<String, List<String>> sorted = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> x : e) sorted.put(x.getKey(), x.getValue());
        return sorted;
    }

    /** "squeeze-excite Conv", "depthwise Conv", "grouped Conv", "1x1 Conv", "3x3 Conv", ... or the op type. */
    static String kind(Node n, Graph g) {
        if (!n.opType().equals("Conv")) return n.opType();
        long group = n.attrLong("group", 1);
        long[] w = g.initializer(n.input(1)).map(Tensor::shape).orElse(null);
        if (w == null || w.length < 3) return "Conv";
        if (pooled(n, g, 0)) return "squeeze-excite Conv";
        if (group > 1) return w[1] == 1 ? "depthwise Conv" : "grouped Conv";
        StringBuilder k = new StringBuilder();
        for (int i = 2; i < w.length; i++) k.append(i > 2 ? "x" : "").append(w[i]);
        return k + " Conv";
    }

    /** Element-wise ops a squeeze-excite branch passes through between its global pooling and its convs. */
    private static final java.util.Set<String> ELEMENTWISE = java.util.Set.of("Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip", "Mul", "Add", "Flatten", "Reshape");

    /**
     * Whether a Conv works on a globally pooled (1x1) input: its input comes from GlobalAveragePool / ReduceMean
     * through ops that keep the pooled size (element-wise ops whose every input is pooled, convs). That is the
     * squeeze-excite branch (pool, conv, activation, conv, sigmoid), not the conv after the gate, which reads the
     * full-size tensor times the gate.
     */
    private static boolean pooled(Node conv, Graph g, int depth) {
        return pooledTensor(conv.input(0), g, depth);
    }

    private static boolean pooledTensor(String t, Graph g, int depth) {
        Node p = g.producer(t);
        if (p == null || depth > 8) return false;
        String op = p.opType();
        if (op.equals("GlobalAveragePool") || op.equals("GlobalMaxPool") || op.equals("ReduceMean")) return true;
        if (op.equals("Conv")) return pooledTensor(p.input(0), g, depth + 1);
        if (!ELEMENTWISE.contains(op)) return false;
        boolean any = false;
        for (String in : p.inputs()) {
            if (in.isEmpty() || g.initializer(in).isPresent()) continue;
            if (!pooledTensor(in, g, depth + 1)) return false;
            any = true;
        }
        return any;
    }

    /** Median latency in ms of each model, timed interleaved. */
    private static double[] time(org.ptq4j.spi.engine.InferenceEngine engine, List<Model> models, Map<String, Tensor> feeds, SessionOptions opts) {
        List<Session> sessions = new ArrayList<>();
        try {
            for (Model m : models) sessions.add(engine.open(m, opts));
            long t0 = System.nanoTime();
            for (Session s : sessions) s.run(feeds);                     // first run: allocations, kernel packing
            double perRound = Math.max(1e-4, (System.nanoTime() - t0) / 1e9);
            int runs = (int) Math.max(15, Math.min(200, SECONDS_PER_MODEL * models.size() / perRound));
            long[][] ns = Interleaved.time(sessions, feeds, Math.max(3, runs / 10), runs);
            double[] ms = new double[models.size()];
            for (int k = 0; k < ms.length; k++) ms[k] = Interleaved.medianP90(ns[k])[0];
            return ms;
        } finally {
            for (Session s : sessions) s.close();
        }
    }

    /** Batch 1: the first calibration sample. */
    private static Map<String, Tensor> feeds(PipelineContext ctx) {
        Dataset ds = ctx.dataset(PipelineContext.CALIBRATION).orElse(null);
        if (ds == null || ds.size() == 0) return null;
        for (Batch b : ctx.batches(ds, new int[]{0}, 1)) return b.inputs();
        return null;
    }

    /** The report section of the speed check: {@code <algorithm> speed check} (a step that re-runs the quantizer copies it). */
    static String section(String algorithm) { return algorithm + " speed check"; }

    private static void report(Report report, String algorithm, List<Trial> trials, double[] vsFp32, int threads) {
        String section = section(algorithm);
        List<String> kept = new ArrayList<>();
        for (Trial t : trials) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("group", t.group());
            row.put("layers", t.layers());
            row.put("int8_ms", round(t.int8Ms()));
            row.put("fp32_ms", round(t.fp32Ms()));
            row.put("pass", t.pass());
            row.put("decision", t.kept() ? "FP32: faster here" : "INT8");
            report.row(section, TABLE, row);
            if (t.kept()) kept.add(t.group() + " x" + t.layers());
        }
        report.put(section, "speed check", "whole model, batch 1, " + threads(threads) + ", interleaved runs: median ms with each group in INT8 and in FP32, "
                + "groups tried largest first; a group stays FP32 when that is faster by more than " + Math.round(MARGIN * 100) + " % "
                + "(pass 2, only when the model is still slower than FP32: by any amount)");
        report.put(section, KEPT, kept.isEmpty() ? "none (every group is faster in INT8 on this CPU)"
                : String.join(", ", kept) + " (the model runs faster with them in FP32 on this CPU)");
        report.put(section, "speed on this CPU", String.format(java.util.Locale.ROOT, "INT8 %.2f ms vs FP32 %.2f ms (%.2fx), batch 1, %s, %s",
                vsFp32[1], vsFp32[0], vsFp32[0] / vsFp32[1], threads(threads), org.ptq4j.spi.CpuInfo.host().describe()));
        if (vsFp32[1] > vsFp32[0] * (1 + MARGIN))
            report.note(section, String.format(java.util.Locale.ROOT, "the INT8 model is slower than FP32 on this CPU (%.2f vs %.2f ms) even with the groups above in FP32; it is smaller", vsFp32[1], vsFp32[0]));
    }

    private static String threads(int t) { return t == 0 ? "engine's default threads" : t + (t == 1 ? " thread" : " threads"); }

    private static double round(double ms) { return Math.round(ms * 1000) / 1000.0; }
}
