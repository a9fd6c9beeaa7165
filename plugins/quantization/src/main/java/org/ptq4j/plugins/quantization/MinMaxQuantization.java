package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.quant.Int16Pairs;
import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.Report;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.transform.OpsetUpgrade;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * POT's MinMaxQuantization for ONNX Runtime: static INT8 in QDQ format. Activation ranges come
 * from the calibration pass ({@link RangeSpec} per quantized activation), weights are quantized
 * directly from their initializers. Placement: {@link QdqPlan}; arithmetic: {@link QuantMath};
 * graph rewriting: {@link QdqWriter}.
 * <p>
 * Records in {@link Model#annotations()}: {@code ptq.quantized_layers} (names of the quantized
 * Conv / Gemm / MatMul nodes, FP32 names kept) and {@code ptq.fp32_model} (the input model), and
 * writes a summary (layers quantized, nodes skipped and why) to the {@link Report} section
 * named after the algorithm.
 */
@Extension
public class MinMaxQuantization implements Algorithm {
    public static final String QUANTIZED_LAYERS = org.ptq4j.spi.model.AnnotationKey.QUANTIZED_LAYERS.name();
    public static final String FP32_MODEL = org.ptq4j.spi.model.AnnotationKey.FP32_MODEL.name();

    @Override public String name() { return "MinMaxQuantization"; }

    @Override public String description() {
        return "static INT8 (uint8 activations, int8 weights) in the QDQ format ONNX Runtime fuses into integer kernels";
    }

    @Override public List<ParamSpec> parameters() { return QuantConfig.parameters(); }

    /** {@code cross_layer_equalization} (default: where outlier channels call for it): {@link CrossLayerEqualization} before the statistics pass. */
    @Override
    public Model transform(Model model, Params params, PipelineContext context) {
        return CrossLayerEqualization.fromParams(model, params, context, name());
    }

    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext context) {
        QuantConfig cfg = QuantConfig.from(params, name());
        return requests(prepare(model, cfg, null, name()).plan(cfg, name()), cfg);
    }

    /**
     * The model as the plan sees it.
     *
     * @param fp32    the FP32 model, opset-upgraded when needed, nodes named
     * @param planned {@code fp32}, after {@link GemmRewrite} in transformer mode
     */
    record Prepared(Model fp32, Model planned, Map<String, String> statAlias) {
        QdqPlan plan(QuantConfig cfg, String section) {
            QdqPlan p = QdqPlan.of(planned, cfg, section);
            p.aliasStats(statAlias);
            return p;
        }
    }

    /**
     * Upgrades opset 11/12 to 13 when per-channel weights are requested ({@link OpsetUpgrade}; per
     * tensor when it cannot), names nameless nodes, rewrites weight MatMuls as Gemms in transformer
     * mode. Writes what it did to the report when {@code report} is given.
     */
    static Prepared prepare(Model model, QuantConfig cfg, Report report, String section) {
        if (cfg.weights().perChannel() && model.opset() >= 11 && model.opset() < 13) {
            try {
                OpsetUpgrade.Result r = OpsetUpgrade.toOpset13(model);
                if (report != null) report.put(section, "opset upgrade", r.summary() + " (per-channel weights need DequantizeLinear-13)");
                model = r.model();
            } catch (PtqException e) {
                if (report != null) report.note(section, "opset upgrade for per-channel weights failed: " + e.getMessage());
            }
        }
        model = named(model);
        if (cfg.transformer()) {                                  // float clean-ups that cut per-node overhead
            model = model.copy();
            int reshapes = TransformerGraph.constantReshapes(model);
            int gelus = cfg.approximateGelu() ? TransformerGraph.tanhGelu(model) : 0;
            if (report != null) {
                report.put(section, "constant Reshape shapes", reshapes + " run-time shape computations replaced by constants (0 = copy the input's dimension)");
                if (cfg.approximateGelu()) report.put(section, "GELU", gelus + " erf GELUs computed in tanh form (ORT FastGelu; approximate_gelu: false keeps erf)");
            }
        }
        Model planned = model;
        Map<String, String> alias = Map.of();
        if (cfg.matmulToGemm()) {
            GemmRewrite.Result r = GemmRewrite.apply(model);
            planned = r.model();
            alias = r.statAlias();
            if (report != null) report.put(section, "MatMul -> Gemm", r.rewritten() + " weight MatMuls as 2-D Gemm, " + r.biasesFolded() + " bias Adds folded in");
        }
        return new Prepared(model, planned, alias);
    }

    static List<StatisticRequest> requests(QdqPlan plan, QuantConfig cfg) {
        List<StatisticRequest> r = new ArrayList<>();
        for (String t : plan.statTensors()) r.add(new StatisticRequest(t, cfg.activationStat()));
        return r;
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        return quantize(model, params, statistics, context, name());
    }

    /** The whole MinMax step; {@code section} names the report section. */
    static Model quantize(Model model, Params params, Statistics statistics, PipelineContext ctx, String section) {
        return quantize(model, params, statistics, ctx, section, null);
    }

    /** {@link #quantize(Model, Params, Statistics, PipelineContext, String)}; {@code timer}: the speed check's clock (null: real timing). */
    static Model quantize(Model model, Params params, Statistics statistics, PipelineContext ctx, String section, SpeedCheck.Timer timer) {
        QuantConfig cfg = QuantConfig.from(params, section);
        Prepared prep = prepare(model, cfg, ctx.report(), section);
        model = prep.planned();
        QdqPlan plan = prep.plan(cfg, section);
        List<StatisticRequest> requests = requests(plan, cfg);
        Statistics stats = complete(model, requests, statistics, cfg, ctx);
        org.ptq4j.spi.stats.CollectorSpec spec = cfg.activationStat();
        java.util.function.Function<String, Range> range = t -> {
            if (!stats.has(new StatisticRequest(t, spec))) throw new PtqException("tensor '" + t + "': no calibration range measured");
            Range r = (Range) stats.get(new StatisticRequest(t, spec));
            if (!Float.isFinite(r.min()) || !Float.isFinite(r.max()))
                throw new PtqException("tensor '" + t + "': calibration range [" + r.min() + ", " + r.max() + "] is not finite");
            return r;
        };
        Model planned = model;
        Model out = QdqWriter.write(planned, plan, cfg, range);
        if (cfg.speedCheck()) {                              // runtime in the loop: keep FP32 what is faster here
            java.util.function.Function<List<String>, QdqPlan> planFor = names -> prep.plan(cfg.withIgnoredNames(names), section);
            java.util.function.Function<QdqPlan, Model> write = p -> QdqWriter.write(planned, p, cfg, range);
            SpeedCheck.Result r = SpeedCheck.run(prep.fp32(), plan, out, planFor, write, timer, ctx, section);
            plan = r.plan();
            out = r.model();
            org.ptq4j.spi.model.AnnotationKey.SPEED_FP32_NODES.put(out, r.keptFp32());
        }
        List<String> names = new ArrayList<>();
        for (QdqPlan.Layer l : plan.layers) names.add(l.node().name());
        out.annotations().put(QUANTIZED_LAYERS, List.copyOf(names));
        out.annotations().put(FP32_MODEL, prep.fp32());
        report(ctx.report(), section, plan, cfg, stats.samples());
        saturationCheck(ctx.report(), section, out, cfg);
        return out;
    }

    /**
     * The model itself, or a copy in which nameless nodes are named {@code <OpType>_<first output>}
     * (unique), so that every quantized layer has a name shared by the FP32 and the INT8 model.
     */
    static Model named(Model model) {
        if (model.graph().nodes().stream().noneMatch(n -> n.name().isEmpty())) return model;
        Model m = model.copy();
        for (org.ptq4j.spi.model.Node n : m.graph().nodes())
            if (n.name().isEmpty()) n.name(m.graph().uniqueName(n.opType() + "_" + (n.outputs().isEmpty() ? "" : n.output(0))));
        m.graph().touch();
        return m;
    }

    /** The given statistics, plus a pass over the calibration data for requests they lack. */
    private static Statistics complete(Model model, List<StatisticRequest> requests, Statistics given, QuantConfig cfg, PipelineContext ctx) {
        List<StatisticRequest> missing = new ArrayList<>();
        for (StatisticRequest r : requests) if (given == null || !given.has(r)) missing.add(r);
        if (missing.isEmpty()) return given;
        Dataset ds = ctx.dataset(PipelineContext.CALIBRATION).orElseThrow(() ->
                new PtqException("quantization needs a '" + PipelineContext.CALIBRATION + "' dataset to measure " + missing.size() + " activation ranges"));
        int n = Math.min(cfg.subsetSize(), ds.size());
        Statistics fresh = ctx.collect(model, ds, ctx.subset(ds, n, cfg.seed(), cfg.shuffle()), missing);
        if (given == null || missing.size() == requests.size()) return fresh;
        return new Statistics() {
            @Override public Object get(StatisticRequest r) { return given.has(r) ? given.get(r) : fresh.get(r); }
            @Override public boolean has(StatisticRequest r) { return given.has(r) || fresh.has(r); }
            @Override public int samples() { return Math.max(given.samples(), fresh.samples()); }
        };
    }

    private static void report(Report report, String section, QdqPlan plan, QuantConfig cfg, int samples) {
        Map<String, Integer> byType = new TreeMap<>();
        for (QdqPlan.Layer l : plan.layers) byType.merge(l.node().opType(), 1, Integer::sum);
        report.put(section, "quantized layers", plan.layers.size() + " " + byType);
        report.put(section, "other integer ops", plan.quantizedOther.size());
        if (cfg.transformer()) report.put(section, "int8 embedding tables", plan.gathers.size());
        report.put(section, "activation Q/DQ", plan.points.size());
        report.put(section, "nodes left in FP32", plan.skipped.size());
        report.put(section, "weights", (cfg.weights().symmetric() ? "symmetric" : "asymmetric") + " int" + cfg.weights().bits()
                + (plan.layers.stream().anyMatch(l -> l.axis() >= 0) ? " per-channel" : " per-tensor"));
        report.put(section, "activations", (cfg.activations().symmetric() ? "symmetric" : "asymmetric") + " uint" + cfg.activations().bits());
        report.put(section, "target", cfg.targetSummary());
        report.put(section, "calibration samples", samples);
        // grouped by op type and reason (tensor names blanked): MiniLM leaves ~100 nodes float for a handful of reasons
        Map<String, int[]> groups = new LinkedHashMap<>();
        Map<String, String> example = new LinkedHashMap<>();
        Map<String, org.ptq4j.spi.model.Node> byName = new java.util.HashMap<>();
        for (org.ptq4j.spi.model.Node n : plan.graph().nodes()) byName.putIfAbsent(n.name(), n);
        for (Map.Entry<String, String> e : plan.skipped.entrySet()) {
            org.ptq4j.spi.model.Node n = byName.get(e.getKey());
            String key = (n == null ? "?" : n.opType()) + "\u0000" + e.getValue().replaceAll("'[^']*'", "'..'");
            groups.computeIfAbsent(key, k -> new int[1])[0]++;
            example.putIfAbsent(key, e.getKey());
        }
        for (Map.Entry<String, int[]> e : groups.entrySet()) {
            String[] k = e.getKey().split("\u0000", 2);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("op", k[0]);
            row.put("nodes", e.getValue()[0]);
            row.put("reason", k[1]);
            row.put("for example", example.get(e.getKey()));
            report.row(section, "left in FP32, by reason", row);
        }
        for (Map.Entry<String, String> e : plan.skipped.entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("node", e.getKey());
            row.put("reason", e.getValue());
            report.row(section, "skipped", row);
        }
        if (plan.perChannelFallback)
            report.note(section, "per-channel weights need opset >= 13; this model's opset is lower and could not be upgraded, weights were quantized per tensor");
        if (!plan.unmatched.isEmpty())
            report.note(section, "ignored entries matching no node: " + String.join(", ", plan.unmatched));
    }

    /**
     * Checks the written weights against the int16 pair sums of x86 CPUs without VNNI ({@link Int16Pairs#analyze})
     * and says in the report which layers can saturate there. A target that promises no saturation and breaks it is a bug.
     */
    static void saturationCheck(Report report, String section, Model out, QuantConfig cfg) {
        List<Int16Pairs.Finding> bad = Int16Pairs.analyze(out).stream().filter(Int16Pairs.Finding::canSaturate).toList();
        if (bad.isEmpty()) {
            report.put(section, "int16 saturation (x86 without VNNI)", "none possible");
            return;
        }
        if (cfg.overflowFix() == QuantConfig.OverflowFix.PAIRWISE || cfg.overflowFix() == QuantConfig.OverflowFix.ENABLE)
            throw new IllegalStateException("weights of " + bad.get(0).node() + " can saturate int16 pair sums (worst pair " + bad.get(0).worstPairSum() + ") despite overflow_fix " + cfg.overflowFix());
        report.put(section, "int16 saturation (x86 without VNNI)", bad.size() + " layers can saturate on x86 CPUs without VNNI (e.g. " + bad.get(0).node()
                + ", worst pair |w_a|+|w_b| = " + bad.get(0).worstPairSum() + " > 128); exact on VNNI/AMX and arm64");
        String here = org.ptq4j.spi.CpuInfo.host().path().saturates()
                ? " This CPU is one of them (" + org.ptq4j.spi.CpuInfo.host().model() + "): expect lower accuracy here; use target_device ANY or HOST." : "";
        report.note(section, "target " + cfg.target() + " with overflow_fix " + cfg.overflowFix().name().toLowerCase(java.util.Locale.ROOT)
                + ": the model is for CPUs with VNNI/AMX or arm64 only." + here);
    }

    /** Node names of a quantized model's layers, as recorded by this algorithm (empty when absent). */
    @SuppressWarnings("unchecked")
    public static List<String> quantizedLayers(Model m) {
        Object v = m.annotations().get(QUANTIZED_LAYERS);
        return v == null ? List.of() : (List<String>) v;
    }

}
