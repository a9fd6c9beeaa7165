package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.model.AnnotationKey;
import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.BudgetNotMetException;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.Report;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.metric.Metric;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Quantizes with a base algorithm, then returns the most harmful layers to FP32 until the metric
 * drop on the validation set is within {@code maximal_drop} (POT's AccuracyAwareQuantization, NNCF's
 * quantize_with_accuracy_control). Layers are ranked cheaply on a ranking subset and the reverted
 * set is found with few full evaluations ({@link RevertSearch}). When the budget cannot be met it
 * throws {@link BudgetNotMetException} carrying the best model found.
 * <p>
 * Needs a {@code validation} dataset (annotated when the metric needs labels) and a metric whose
 * accumulator returns per-sample values.
 */
@Extension
public final class AccuracyAwareQuantization implements Algorithm {
    static final String NAME = "AccuracyAwareQuantization";
    /** Annotation on the output model: {@code List<String>} of layers reverted to FP32. */
    public static final String REVERTED = "ptq.reverted_layers";
    /** Annotation on the output model: {@code List<String>} of layers with int8 weights and float activations. */
    public static final String ACTIVATIONS_REVERTED = "ptq.activation_reverted_layers";

    @Override public String name() { return NAME; }

    @Override
    public String description() {
        return "Quantizes with a base algorithm, then reverts the most harmful layers to FP32 until the metric drop fits maximal_drop";
    }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.number("maximal_drop", 0.01, "largest acceptable metric drop vs FP32 on the validation set").withRange(0.0, null),
                ParamSpec.choice("drop_type", "absolute", "drop as a difference (absolute) or a fraction of the FP32 value (relative)", "absolute", "relative"),
                ParamSpec.string("base_algorithm", "DefaultQuantization", "the quantization algorithm to run and re-run with reverted layers ignored"),
                ParamSpec.paramsOf("base_params", "base_algorithm", "parameters of base_algorithm, checked against its own (its 'ignored' is extended with reverted layers)"),
                ParamSpec.integer("ranking_subset_size", 300, "validation samples used to rank layers").withRange(1.0, null),
                ParamSpec.number("metric_subset_ratio", 0.5, "part of the ranking subset taken from samples whose metric changed most under INT8 (rest: seeded random)").withRange(0.0, 1.0),
                ParamSpec.integer("max_iter_num", null, "most full evaluations of candidate models (default: unlimited)").withRange(1.0, null),
                ParamSpec.choice("ranking", "hybrid", "layer ranking: metric on the ranking subset with output-error tie-break (hybrid), metric, output_error, or naive (each layer's own quantization error)",
                        "hybrid", "metric", "output_error", "naive"),
                ParamSpec.choice("search", "gallop", "revert the top 1,2,4.. ranked layers then binary-search (gallop) or one layer per full evaluation (sequential)", "gallop", "sequential"),
                ParamSpec.bool("prune", true, "after meeting the budget, put back reverted layers the ranking subset finds harmless, one full evaluation each, until one breaks the budget"),
                ParamSpec.bool("tune_hyperparams", false, "before reverting, try the base's 'mixed' preset and other range estimators and keep the best"),
                ParamSpec.choice("restore_mode", "full", "full: reverted layers are FP32; auto: then keep int8 weights (reverting only activations) where the budget still holds", "full", "auto"),
                ParamSpec.bool("keep_intermediate", false, "save every evaluated candidate model to intermediate_dir"),
                ParamSpec.path("intermediate_dir", "folder for keep_intermediate (default: aaq-intermediate in the working directory)"),
                ParamSpec.integer("seed", 0, "seed of the random part of the ranking subset (and of the holdout split)"),
                ParamSpec.number("holdout_ratio", 0.0, "part of the validation set (seeded random) kept out of ranking and search, used only to confirm the result's drop on unseen samples (report: holdout_drop next to final_drop); 0: off").withRange(0.0, 0.9));
    }

    /** The base algorithm's data-free rewrite (e.g. DefaultQuantization's cross-layer equalization), so statistics and candidates see it. */
    @Override
    public Model transform(Model model, Params params, PipelineContext ctx) {
        Algorithm base = base(params, ctx);
        return base.transform(model, ctx.params(base, Quantizer.plain(params.map("base_params").asMap())), ctx);
    }

    @Override
    public List<StatisticRequest> statistics(Model model, Params params, PipelineContext ctx) {
        Algorithm base = base(params, ctx);
        return base.statistics(model, ctx.params(base, Quantizer.plain(params.map("base_params").asMap())), ctx);
    }

    @Override
    public Model apply(Model fp32, Params params, Statistics statistics, PipelineContext ctx) {
        Dataset val = ctx.dataset(PipelineContext.VALIDATION).orElseThrow(() -> new PtqException(
                NAME + " needs a '" + PipelineContext.VALIDATION + "' dataset (annotated) to measure the accuracy drop"));
        Metric metric = ctx.metric().orElseThrow(() -> new PtqException(NAME + " needs a 'metric' (with per-sample values, e.g. accuracy)"));
        if (metric.needsAnnotations() && !val.annotated())
            throw new PtqException(NAME + ": metric '" + metric.name() + "' needs labels but the '" + PipelineContext.VALIDATION + "' dataset has no annotations");
        if (val.size() == 0) throw new PtqException(NAME + ": the '" + PipelineContext.VALIDATION + "' dataset is empty");

        Report rep = ctx.report();
        String sec = NAME;
        Quantizer quantizer = new Quantizer(ctx, base(params, ctx), fp32, params.map("base_params").asMap(), statistics);
        int[][] split = split(val.size(), params.getDouble("holdout_ratio"), params.getLong("seed"));
        Judge judge = new Judge(ctx, fp32, metric, val, split[0], split[1]);
        Evaluation ref = judge.fp32();
        if (ref.perSample() == null || ref.perSample().length != judge.size())
            throw new PtqException(NAME + ": metric '" + metric.name() + "' gives no per-sample values; ranking layers needs them");
        Budget budget = new Budget(params.getDouble("maximal_drop"), params.getString("drop_type").equals("relative"),
                metric.higherIsBetter(), ref.value());
        Intermediates keep = new Intermediates(ctx, params);
        int maxIter = params.integer("max_iter_num").orElse(Integer.MAX_VALUE);
        RevertSearch.Ranking ranking = RevertSearch.Ranking.valueOf(params.getString("ranking").toUpperCase(Locale.ROOT));
        RevertSearch.Strategy strategy = RevertSearch.Strategy.valueOf(params.getString("search").toUpperCase(Locale.ROOT));

        rep.put(sec, "metric", metric.name());
        rep.put(sec, "fp32_value", ref.value());
        rep.put(sec, "maximal_drop", budget.maximalDrop() + " (" + params.getString("drop_type") + ")");

        // the fully quantized model, then (optionally) other base hyper-parameters
        Model q0 = quantizer.build(List.of(), List.of());
        Evaluation e0 = judge.full(q0);
        keep.save(q0, "int8", List.of());
        RevertSearch.Trial start = new RevertSearch.Trial(List.of(), List.of(), q0, e0, budget.drop(e0.value()));
        rep.put(sec, "int8_value", e0.value());
        rep.put(sec, "int8_drop", start.drop());
        ctx.log().info("{}: FP32 {} = {}, INT8 = {} (drop {})", NAME, metric.name(), ref.value(), e0.value(), start.drop());
        if (!budget.met(start.drop()) && params.getBool("tune_hyperparams")) start = tune(quantizer, judge, budget, start, keep, rep, sec, ctx);

        List<String> layers = quantizedLayers(start.model(), quantizer);
        RevertSearch search = new RevertSearch(quantizer, judge, budget, layers, ranking, strategy, maxIter, t -> {
            keep.save(t.model(), "iter", t.reverted());
            rep.row(sec, "candidates", row(t, budget));
            ctx.log().info("{}: {} FP32 layer(s) {} -> {} = {} (drop {})", NAME, t.reverted().size(), t.reverted(),
                    metric.name(), t.evaluation().value(), t.drop());
        });
        search.seed(start);
        RevertSearch.Trial result = start;
        if (!budget.met(start.drop())) {
            judge.rankingSubset(rankingSubset(ref.perSample(), e0.perSample(), params));
            result = search.run(start);
            if (budget.met(result.drop()) && params.getBool("prune")) result = search.prune(result);
            if (budget.met(result.drop()) && params.getString("restore_mode").equals("auto")) result = restoreWeights(search, result, budget);
        }

        boolean met = budget.met(result.drop());
        if (judge.holdoutSize() > 0) {                        // the search chose on its samples; judge on unseen ones
            Evaluation[] h = judge.confirm(result.model());
            Budget hb = new Budget(budget.maximalDrop(), params.getString("drop_type").equals("relative"), metric.higherIsBetter(), h[0].value());
            double hd = hb.drop(h[1].value());
            rep.put(sec, "search_samples", judge.size());
            rep.put(sec, "holdout_samples", judge.holdoutSize());
            rep.put(sec, "holdout_fp32_value", h[0].value());
            rep.put(sec, "holdout_value", h[1].value());
            rep.put(sec, "holdout_drop", hd);
            if (!hb.met(hd)) rep.note(sec, String.format(Locale.ROOT, "on the %d held-out samples the drop is %.5g, above maximal_drop %.5g "
                    + "(%.5g on the %d samples searched): the search fitted its samples; more validation data gives a budget that holds", judge.holdoutSize(), hd, budget.maximalDrop(), result.drop(), judge.size()));
        }
        quantizer.report(result.model());
        rep.put(sec, "final_value", result.evaluation().value());
        rep.put(sec, "final_drop", result.drop());
        rep.put(sec, "budget_met", met);
        rep.put(sec, "quantized_layers", layers.size());
        rep.put(sec, "reverted_layers", result.reverted());
        rep.put(sec, "activation_reverted_layers", result.activationOnly());
        rep.put(sec, "full_evaluations", judge.fullEvaluations);
        rep.put(sec, "ranking_evaluations", judge.rankingEvaluations);
        rep.put(sec, "rankings", search.rankings);
        Model out = result.model().copy();
        out.annotations().put(REVERTED, result.reverted());
        out.annotations().put(ACTIVATIONS_REVERTED, result.activationOnly());
        keep.save(out, "best", result.reverted());
        if (!met) {
            String msg = String.format(Locale.ROOT, "%s: maximal_drop %.5g not met; best drop %.5g (%s %.5g vs FP32 %.5g) with %d of %d layers in FP32 after %d full evaluations",
                    NAME, budget.maximalDrop(), result.drop(), metric.name(), result.evaluation().value(), ref.value(),
                    result.reverted().size(), layers.size(), judge.fullEvaluations);
            rep.note(sec, msg);
            throw new BudgetNotMetException(msg, out, result.drop(), budget.maximalDrop());
        }
        return out;
    }

    /** Tries the base's {@code mixed} preset and other range estimators; keeps the best (one full evaluation each). */
    private static RevertSearch.Trial tune(Quantizer quantizer, Judge judge, Budget budget, RevertSearch.Trial start,
                                           Intermediates keep, Report rep, String sec, PipelineContext ctx) {
        RevertSearch.Trial best = start;
        Map<String, Object> bestValues = quantizer.values();
        for (Tuning.Option o : Tuning.options(quantizer.base().parameters(), bestValues)) {
            if (budget.met(best.drop())) break;
            Map<String, Object> v = o.applyTo(bestValues);
            quantizer.values(v);
            Model m;
            try {
                m = quantizer.build(List.of(), List.of());
            } catch (PtqException ex) {
                ctx.log().info("{}: tuning {} not applicable: {}", NAME, o, ex.getMessage());
                continue;
            }
            Evaluation e = judge.full(m);
            double d = budget.drop(e.value());
            rep.row(sec, "tuning", Map.of("option", o.toString(), "value", e.value(), "drop", d));
            keep.save(m, "tune", List.of(o.toString()));
            if (d < best.drop()) { best = new RevertSearch.Trial(List.of(), List.of(), m, e, d); bestValues = v; }
        }
        quantizer.values(bestValues);
        rep.put(sec, "base_params", bestValues);
        return best;
    }

    /** restore_mode auto: for each FP32 layer (last reverted first), keep int8 weights if the budget still holds. */
    private static RevertSearch.Trial restoreWeights(RevertSearch search, RevertSearch.Trial met, Budget budget) {
        RevertSearch.Trial cur = met;
        List<String> order = new ArrayList<>(met.reverted());
        java.util.Collections.reverse(order);
        for (String layer : order) {
            if (search.exhausted()) break;
            List<String> r = new ArrayList<>(cur.reverted());
            r.remove(layer);
            List<String> a = new ArrayList<>(cur.activationOnly());
            a.add(layer);
            RevertSearch.Trial t = search.trial(r, a);
            if (budget.met(t.drop())) cur = t;
        }
        return cur;
    }

    /**
     * POT's ranking subset: up to {@code metric_subset_ratio} of it from the samples whose metric
     * changed most between FP32 and INT8, the rest a seeded random choice of the others.
     */
    /** {search, holdout} validation indices: a seeded random {@code ratio} of them held out (none when 0). */
    static int[][] split(int n, double ratio, long seed) {
        int h = (int) Math.round(n * ratio);
        if (h == 0 || h >= n) return new int[][]{java.util.stream.IntStream.range(0, n).toArray(), new int[0]};
        Integer[] perm = new Integer[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x5eed);
        for (int i = n - 1; i > 0; i--) { int j = rnd.nextInt(i + 1); Integer t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
        int[] holdout = Arrays.stream(perm, 0, h).mapToInt(Integer::intValue).sorted().toArray();
        int[] search = Arrays.stream(perm, h, n).mapToInt(Integer::intValue).sorted().toArray();
        return new int[][]{search, holdout};
    }

    static int[] rankingSubset(double[] fp32, double[] int8, Params params) {
        int n = fp32.length, size = Math.min(params.getInt("ranking_subset_size"), n);
        Integer[] byChange = new Integer[n];
        for (int i = 0; i < n; i++) byChange[i] = i;
        Arrays.sort(byChange, Comparator.comparingDouble(i -> -Math.abs(fp32[i] - int8[i])));
        int changed = (int) Math.round(size * params.getDouble("metric_subset_ratio"));
        List<Integer> pick = new ArrayList<>();
        for (int i = 0; i < n && pick.size() < changed && Math.abs(fp32[byChange[i]] - int8[byChange[i]]) > 0; i++) pick.add(byChange[i]);
        List<Integer> rest = new ArrayList<>();
        for (int i = pick.size(); i < n; i++) rest.add(byChange[i]);
        SplittableRandom rnd = new SplittableRandom(params.getLong("seed"));
        for (int i = rest.size() - 1; i > 0; i--) java.util.Collections.swap(rest, i, rnd.nextInt(i + 1));
        pick.addAll(rest.subList(0, size - pick.size()));
        return pick.stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    @SuppressWarnings("unchecked")
    private static List<String> quantizedLayers(Model q, Quantizer quantizer) {
        Object v = q.annotations().get(AnnotationKey.QUANTIZED_LAYERS.name());
        if (!(v instanceof List<?> l) || l.isEmpty())
            throw new PtqException(NAME + ": base_algorithm '" + quantizer.base().name()
                    + "' quantized no layer (its model has no '" + AnnotationKey.QUANTIZED_LAYERS.name() + "' annotation): nothing to revert");
        return new ArrayList<>((List<String>) l);
    }

    private static Algorithm base(Params params, PipelineContext ctx) {
        String name = params.getString("base_algorithm");
        if (name.equals(NAME)) throw new PtqException(NAME + ": base_algorithm cannot be " + NAME + " itself");
        return ctx.algorithm(name).orElseThrow(() -> new PtqException(NAME + ": base_algorithm '" + name + "' is not an installed algorithm"));
    }

    private static Map<String, Object> row(RevertSearch.Trial t, Budget budget) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("fp32_layers", t.reverted().size());
        r.put("reverted", String.join(",", t.reverted()));
        if (!t.activationOnly().isEmpty()) r.put("activations_reverted", String.join(",", t.activationOnly()));
        r.put("value", t.evaluation().value());
        r.put("drop", t.drop());
        r.put("met", budget.met(t.drop()));
        return r;
    }

    /** keep_intermediate: numbered model files in intermediate_dir. */
    private static final class Intermediates {
        private final PipelineContext ctx;
        private final Path dir;
        private int n;

        Intermediates(PipelineContext ctx, Params p) {
            this.ctx = ctx;
            this.dir = p.getBool("keep_intermediate") ? p.path("intermediate_dir").orElse(Path.of("aaq-intermediate")) : null;
        }

        void save(Model m, String what, List<String> reverted) {
            if (dir == null) return;
            String tag = reverted.isEmpty() ? "" : "_" + String.join("+", reverted).replaceAll("[^A-Za-z0-9._+=-]", "_");
            if (tag.length() > 80) tag = tag.substring(0, 80) + "_" + reverted.size();
            try {
                java.nio.file.Files.createDirectories(dir);
            } catch (java.io.IOException e) {
                throw new PtqException("intermediate_dir: cannot create '" + dir + "': " + e.getMessage(), e);
            }
            ctx.save(m, dir.resolve(String.format(Locale.ROOT, "%03d_%s%s.onnx", n++, what, tag)));
        }
    }

}
