package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.model.AnnotationKey;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The base algorithm, re-run on the FP32 model with some layers reverted: a fully reverted layer is
 * appended to the base's {@code ignored.names} (the quantizer keeps the graph fusable) and reads
 * its float input ({@link ActivationRevert}); an activation-only revert keeps the int8 weight. Statistics are
 * collected once per distinct set of requests and reused by every build.
 */
final class Quantizer {
    private final PipelineContext ctx;
    private final BaseContext baseCtx;
    private final Map<Model, BaseContext.ScratchReport> reports = new java.util.WeakHashMap<>(); // Model has identity equality
    private final Algorithm base;
    private final Model fp32;
    private Map<String, Object> values;
    private Statistics stats;

    Quantizer(PipelineContext ctx, Algorithm base, Model fp32, Map<String, Object> values, Statistics given) {
        this.ctx = ctx;
        this.baseCtx = new BaseContext(ctx);
        this.base = base;
        this.fp32 = fp32;
        this.values = plain(values);
        this.stats = given == null ? Statistics.EMPTY : given;
    }

    Algorithm base() { return base; }

    Map<String, Object> values() { return values; }

    /** Switches to other base parameters (hyper-parameter tuning), collecting what they need. */
    void values(Map<String, Object> v) { this.values = plain(v); }

    /** The base's result with {@code reverted} kept FP32 and {@code activationOnly} reading float activations. */
    Model build(Collection<String> reverted, Collection<String> activationOnly) {
        Params p = ctx.params(base, withIgnored(values, reverted));
        ensureStatistics(p);
        BaseContext.ScratchReport rep = baseCtx.newReport();
        // reverted layers read the float tensor where that costs no neighbour its integer kernel; elsewhere
        // the quantizer gives them a per-channel DQ, so ONNX Runtime (WeightBiasQuantization) does not quantize them again
        Set<String> floatInput = new LinkedHashSet<>(reverted);
        floatInput.addAll(activationOnly);
        Model q = base.apply(fp32, p, stats, baseCtx);
        // the base timed layer groups on this CPU (speed_check): later builds keep its choice instead of timing again
        java.util.Optional<List<String>> speedFp32 = AnnotationKey.SPEED_FP32_NODES.get(q);
        if (speedFp32.isPresent()) {
            values = withIgnored(values, speedFp32.get());
            values.put("speed_check", "off");
            rep.replay(ctx.report(), section -> section.endsWith(" speed check"));   // its timings, in the run's report once
        }
        List<String> fused = new ArrayList<>();
        if (q.annotations().get(AnnotationKey.QUANTIZED_LAYERS.name()) instanceof List<?> l) for (Object o : l) fused.add(String.valueOf(o));
        fused.removeAll(floatInput);
        Model m = ActivationRevert.apply(q, fp32, floatInput, fused);
        reports.put(m, rep);
        return m;
    }

    /** Copies what the base reported while building {@code model} into the run's report. */
    void report(Model model) {
        BaseContext.ScratchReport r = reports.get(model);
        if (r != null) r.replay(ctx.report(), section -> !section.endsWith(" speed check"));   // that one is in already (build)
    }

    /** Collects (once) any statistic the base needs with parameters {@code p} that is not there yet. */
    private void ensureStatistics(Params p) {
        List<StatisticRequest> missing = new ArrayList<>();
        for (StatisticRequest r : base.statistics(fp32, p, baseCtx)) if (!stats.has(r)) missing.add(r);
        if (missing.isEmpty()) return;
        Dataset calib = ctx.dataset(PipelineContext.CALIBRATION)
                .orElseThrow(() -> new PtqException("AccuracyAwareQuantization: base algorithm '" + base.name()
                        + "' needs statistics but the pipeline has no '" + PipelineContext.CALIBRATION + "' dataset"));
        int n = values.get("stat_subset_size") instanceof Number k ? Math.min(k.intValue(), calib.size()) : calib.size();
        Statistics more = ctx.collect(fp32, calib, ctx.subset(calib, n, 0, false), missing);
        stats = merged(stats, more);
    }

    private static Statistics merged(Statistics a, Statistics b) {
        return new Statistics() {
            @Override public Object get(StatisticRequest r) { return b.has(r) ? b.get(r) : a.get(r); }
            @Override public boolean has(StatisticRequest r) { return a.has(r) || b.has(r); }
            @Override public int samples() { return Math.max(a.samples(), b.samples()); }
        };
    }

    /** {@code values} with {@code names} appended to {@code ignored.names}. */
    static Map<String, Object> withIgnored(Map<String, Object> values, Collection<String> names) {
        Map<String, Object> v = plain(values);
        if (names.isEmpty()) return v;
        Map<String, Object> ignored = v.get("ignored") instanceof Map<?, ?> m ? plain(cast(m)) : new LinkedHashMap<>();
        Set<String> all = new LinkedHashSet<>();
        if (ignored.get("names") instanceof Collection<?> c) for (Object o : c) all.add(String.valueOf(o));
        all.addAll(names);
        ignored.put("names", new ArrayList<>(all));
        v.put("ignored", ignored);
        return v;
    }

    /** A mutable deep copy with nested {@link Params} turned into maps. */
    static Map<String, Object> plain(Map<String, ?> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (m == null) return out;
        for (Map.Entry<String, ?> e : m.entrySet()) {
            Object val = e.getValue();
            if (val instanceof Params p) val = plain(p.asMap());
            else if (val instanceof Map<?, ?> mm) val = plain(cast(mm));
            else if (val instanceof List<?> l) val = new ArrayList<>(l);
            out.put(e.getKey(), val);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }
}
