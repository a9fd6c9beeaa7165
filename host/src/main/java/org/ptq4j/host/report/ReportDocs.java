package org.ptq4j.host.report;

import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.onnx.ModelFiles;
import org.ptq4j.host.pipeline.DatasetSelection;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.BudgetNotMetException;
import org.ptq4j.spi.CpuInfo;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.engine.InferenceEngine;
import org.ptq4j.spi.model.Model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The documents behind {@code --json} and {@code --report}: plain maps and lists (snake_case keys, numbers as
 * numbers with the unit in the key, a {@code version} and a {@code kind}) that follow
 * {@code ptq-report.schema.json}. The HTML report ({@link HtmlReport}) is rendered from the same document.
 */
public final class ReportDocs {
    /** Version of the document layout; bumped when a field changes meaning or is removed. */
    public static final int VERSION = 1;
    /** The JSON Schema's resource path in the host jar (also at the repository's {@code docs/ptq-report.schema.json}). */
    public static final String SCHEMA_RESOURCE = "/org/ptq4j/host/report/ptq-report.schema.json";

    private ReportDocs() {}

    /** Report settings ({@code report:} in YAML, {@code --report} on the command line). */
    public record Options(Path html, Path json, int samples, int worst) {
        public static final int DEFAULT_SAMPLES = 8;
        public static final int DEFAULT_WORST = 6;

        public boolean any() { return html != null || json != null; }
    }

    /** The run's calibration (else validation) dataset, opened once for all checks of a report and closed with it. */
    static final class Data implements AutoCloseable {
        final String role;
        private final PipelineConfig cfg;
        private final Model fp32;
        private Dataset ds;

        Data(PipelineConfig cfg, Model fp32) {
            this.cfg = cfg;
            this.fp32 = fp32;
            this.role = cfg.datasets().containsKey(PipelineContext.CALIBRATION) ? PipelineContext.CALIBRATION
                    : cfg.datasets().containsKey(PipelineContext.VALIDATION) ? PipelineContext.VALIDATION : null;
        }

        /** The dataset, or null when the pipeline has none. */
        Dataset get() {
            if (ds == null && role != null) ds = DatasetSelection.open(cfg.datasets().get(role), PipelineRunner.datasetContext(fp32, cfg));
            return ds;
        }

        @Override public void close() { if (ds != null) ds.close(); }
    }

    static Map<String, Object> header(String kind, String ptqVersion) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("version", VERSION);
        d.put("kind", kind);
        d.put("ptq_version", ptqVersion);
        return d;
    }

    /** {@code ptq plugins --json}: the given document with version and kind in front. */
    public static Map<String, Object> plugins(Map<String, Object> body, String ptqVersion) {
        Map<String, Object> d = header("plugins", ptqVersion);
        body.forEach((k, v) -> { if (!k.equals("ptq")) d.put(k, v); });
        return d;
    }

    /** {@code ptq benchmark --json}. */
    public static Map<String, Object> benchmark(Map<String, Object> body, String ptqVersion) {
        Map<String, Object> d = header("benchmark", ptqVersion);
        d.putAll(body);
        return d;
    }

    /** {@code ptq evaluate --json}: one row per model (model, metric name, value, delta, samples, ci95). */
    public static Map<String, Object> evaluate(String metric, List<Path> models, List<Evaluation> evals, String ptqVersion) {
        Map<String, Object> d = header("evaluate", ptqVersion);
        d.put("metric", metric);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            Evaluation e = evals.get(i);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("model", models.get(i).toString());
            row.put("model_bytes", ModelFiles.bytes(models.get(i)));
            row.put(metric, e.value());          // the metric's own name as key (scripts written for 0.1 read it)
            row.put("value", e.value());
            row.put("delta", e.value() - evals.get(0).value());
            row.put("samples", e.samples());
            row.put("ci95", ci95(metric, e));
            rows.add(row);
        }
        d.put("results", rows);
        d.put("cpu", cpu(CpuInfo.host()));
        return d;
    }

    /** The CPU as a JSON object, the same in every command's --json and in `ptq system --json`. */
    public static Map<String, Object> cpu(CpuInfo cpu) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", cpu.model());
        m.put("arch", cpu.arch());
        m.put("int8_flags", cpu.features().stream().toList());
        m.put("int8_path", cpu.path().name());
        m.put("int8_fast", cpu.path().fast());
        m.put("int8_saturates", cpu.path().saturates());
        m.put("source", cpu.source());
        return m;
    }

    /**
     * 95 % interval of a metric: Wilson's for per-sample 0/1 values of accuracy-like metrics, else mean +- 1.96 standard errors
     * of the per-sample values; null without per-sample values.
     */
    static List<Double> ci95(String metric, Evaluation e) {
        double[] v = e.perSample();
        if (v == null || v.length == 0) return null;
        boolean binary = true;
        double sum = 0, sq = 0;
        for (double x : v) { binary &= x == 0 || x == 1; sum += x; sq += x * x; }
        int n = v.length;
        if (binary && (metric.contains("accuracy") || metric.startsWith("top"))) {
            double p = sum / n, z = 1.959964, z2 = z * z;
            double c = (p + z2 / (2 * n)) / (1 + z2 / n), h = z / (1 + z2 / n) * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
            return List.of(Math.max(0, c - h), Math.min(1, c + h));
        }
        double mean = sum / n, var = n > 1 ? Math.max(0, (sq - n * mean * mean) / (n - 1)) : 0, h = 1.959964 * Math.sqrt(var / n);
        if (!Double.isFinite(h)) return null;
        return List.of(e.value() - h, e.value() + h);
    }

    /**
     * {@code ptq quantize}'s document: summary, per-layer analysis (runs the FP32 and quantized models on
     * {@code opts.samples()} samples), ranges of the worst layers, the accuracy-aware search, and what each step
     * reported.
     */
    public static Map<String, Object> quantize(PipelineConfig cfg, PipelineRunner.Result r, BudgetNotMetException budget, Options opts,
                                               InferenceEngine engine, String ptqVersion) {
        long t0 = System.nanoTime();
        PipelineRunner.Facts f = r.facts();
        Map<String, Object> d = header("quantize", ptqVersion);
        Map<String, Object> s = new LinkedHashMap<>();
        List<String> warnings = new ArrayList<>();
        s.put("model", cfg.model().toString());
        s.put("output", cfg.output().toString());
        long in = f != null && f.bytes() != null ? f.bytes()[0] : ModelFiles.bytes(cfg.model());
        long out = f != null && f.bytes() != null ? f.bytes()[1] : ModelFiles.bytes(cfg.output());
        s.put("input_bytes", in);
        s.put("output_bytes", out);
        s.put("size_ratio", out == 0 ? null : (double) in / out);
        s.put("time_s", f == null ? null : f.seconds());
        List<Map<String, Object>> steps = new ArrayList<>();
        if (f != null) f.stepSeconds().forEach((k, v) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("algorithm", k.replaceAll("#\\d+$", ""));
            m.put("time_s", v);
            steps.add(m);
        });
        s.put("steps", steps);
        s.put("calibration_samples", f == null || f.calibration() == null ? null : f.calibration()[1]);
        s.put("calibration_samples_requested", f == null || f.calibration() == null ? null : f.calibration()[0]);
        s.put("metric", metric(f));
        Data data = f == null ? null : new Data(cfg, f.fp32());
        if (f != null) warnings.addAll(sanity(cfg, f, engine, data));
        s.put("budget", budget == null ? null : budget(budget, f));
        CpuInfo cpu = CpuInfo.host();
        s.put("cpu", cpu(cpu));
        s.put("onnxruntime", org.ptq4j.host.engine.OrtEngine.version());
        List<String> notes = new ArrayList<>();
        String slow = cpu.slowInt8Note(out == 0 ? Double.NaN : (double) in / out);
        if (slow != null) notes.add(slow);
        d.put("summary", s);

        Map<String, Object> layers = new LinkedHashMap<>();
        Map<String, Object> ranges = new LinkedHashMap<>();
        try {
            s.put("speed", f == null ? null : speed(cfg, f, engine, notes, data));
            if (f != null) analyse(cfg, r, f, opts, engine, layers, ranges, notes, data);
        } finally {
            if (data != null) data.close();
        }
        s.put("warnings", warnings);
        s.put("notes", notes);
        d.put("layers", layers);
        d.put("ranges", ranges);
        d.put("accuracy_aware", accuracyAware(r.report()));
        d.put("sections", sections(r.report()));
        d.put("report_time_s", (System.nanoTime() - t0) / 1e9);
        return d;
    }

    private static Map<String, Object> metric(PipelineRunner.Facts f) {
        if (f == null || f.fp32Eval() == null) return null;
        Evaluation a = f.fp32Eval(), q = f.resultEval();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", a.metric());
        m.put("samples", a.samples());
        m.put("fp32", a.value());
        m.put("int8", q.value());
        m.put("delta", q.value() - a.value());
        m.put("fp32_ci95", ci95(a.metric(), a));
        m.put("int8_ci95", ci95(q.metric(), q));
        return m;
    }

    /** Timed runs per model of the report's speed check (after one warm-up run each). */
    static final int SPEED_RUNS = 5;

    /**
     * A quick speed check on this CPU: FP32 and the written model on the first calibration sample (batch 1), one warm-up
     * then {@value #SPEED_RUNS} interleaved runs each, the run's intra-op threads; {@code ptq benchmark} measures properly.
     */
    static Map<String, Object> speed(PipelineConfig cfg, PipelineRunner.Facts f, InferenceEngine engine, List<String> notes, Data data) {
        try {
            Dataset ds = data.get();
            if (ds == null || ds.size() == 0) return null;
            Map<String, org.ptq4j.spi.tensor.Tensor> one = new LinkedHashMap<>();
            ds.get(0).inputs().forEach((k, t) -> one.put(k, org.ptq4j.spi.tensor.Tensor.stack(List.of(t))));
            var so = org.ptq4j.spi.engine.SessionOptions.defaults().withThreads(cfg.engine().threads());
            try (var a = engine.open(f.fp32(), so); var b = engine.open(f.result(), so)) {
                var fa = org.ptq4j.host.run.Feeds.match(f.fp32(), one);
                var fb = org.ptq4j.host.run.Feeds.match(f.result(), one);
                a.run(fa);
                b.run(fb);
                double[] ta = new double[SPEED_RUNS], tb = new double[SPEED_RUNS];
                for (int i = 0; i < SPEED_RUNS; i++) {
                    long t0 = System.nanoTime();
                    a.run(fa);
                    long t1 = System.nanoTime();
                    b.run(fb);
                    ta[i] = (t1 - t0) / 1e6;
                    tb[i] = (System.nanoTime() - t1) / 1e6;
                }
                java.util.Arrays.sort(ta);
                java.util.Arrays.sort(tb);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("batch", 1);
                m.put("threads", cfg.engine().threads());
                m.put("runs", SPEED_RUNS);
                m.put("fp32_median_ms", ta[SPEED_RUNS / 2]);
                m.put("int8_median_ms", tb[SPEED_RUNS / 2]);
                m.put("speedup", ta[SPEED_RUNS / 2] / tb[SPEED_RUNS / 2]);
                return m;
            }
        } catch (RuntimeException e) {
            notes.add("speed not measured: " + e.getMessage());
            return null;
        }
    }

    /** Samples the data sanity checks look at. */
    static final int SANITY_SAMPLES = 16;

    /**
     * Data sanity warnings of a run: fewer calibration samples than requested, a metric near chance on FP32, float inputs
     * that look like raw 0..255 pixels, a classifier whose FP32 predictions on the first samples collapse to one class.
     * Cheap: reads at most {@value #SANITY_SAMPLES} samples and runs the FP32 model on them only for classifiers.
     */
    public static List<String> sanity(PipelineConfig cfg, PipelineRunner.Facts f, InferenceEngine engine) {
        try (Data data = new Data(cfg, f.fp32())) {
            return sanity(cfg, f, engine, data);
        }
    }

    static List<String> sanity(PipelineConfig cfg, PipelineRunner.Facts f, InferenceEngine engine, Data data) {
        List<String> w = new ArrayList<>();
        if (f.calibration() != null && f.calibration()[1] < f.calibration()[0])
            w.add("calibration used " + f.calibration()[1] + " samples, fewer than the " + f.calibration()[0]
                    + " requested (stat_subset_size): the dataset is smaller");
        Evaluation a = f.fp32Eval();
        int classes = classes(f.fp32());
        if (a != null && a.metric().equals("accuracy") && classes >= 3 && a.value() < 1.5 / classes)
            w.add(String.format(Locale.ROOT, "FP32 %s is %.4f, near chance for %d classes (%.4f): check the labels and the preprocessing of datasets.%s",
                    a.metric(), a.value(), classes, 1.0 / classes, PipelineContext.VALIDATION));
        String role = data.role;
        if (role == null) return w;
        try (HostContext ctx = HostContext.builder().engine(engine).dataset(role, data.get()).threads(cfg.engine().threads()).build()) {
            Dataset ds = data.get();
            int[] idx = ctx.subset(ds, Math.min(SANITY_SAMPLES, ds.size()), 0, false);
            if (idx.length == 0) return w;
            inputRange(ds, idx, role, w);
            if (classes >= 3) {
                Map<Integer, Integer> seen = new HashMap<>();
                long rows = 0;
                try (var s = engine.open(f.fp32(), org.ptq4j.spi.engine.SessionOptions.defaults().withThreads(cfg.engine().threads()))) {
                    for (var b : ctx.batches(ds, idx, org.ptq4j.host.run.Feeds.batchSize(f.fp32(), cfg.engine().batchSize())))
                        rows += LayerAnalysis.argmaxClasses(s.run(org.ptq4j.host.run.Feeds.match(f.fp32(), b.inputs())), f.fp32().graph(), seen);
                }
                if (rows >= 8 && seen.size() == 1)
                    w.add("the FP32 model predicts class " + seen.keySet().iterator().next() + " for all first " + rows + " samples of datasets." + role
                            + ": the data may not be preprocessed the way the model expects (scale, mean/std, layout)");
            }
        } catch (RuntimeException e) {
            w.add("data sanity checks skipped: " + e.getMessage());
        }
        return w;
    }

    private static int classes(Model m) {
        var outs = m.graph().outputs();
        if (outs.size() != 1 || outs.get(0).shape() == null || outs.get(0).shape().size() != 2) return 0;
        var dim = outs.get(0).shape().get(1);
        return dim.isFixed() ? (int) dim.value() : 0;
    }

    private static Map<String, Object> budget(BudgetNotMetException b, PipelineRunner.Facts f) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("met", false);
        m.put("metric", f == null || f.fp32Eval() == null ? null : f.fp32Eval().metric());
        m.put("drop", b.achievedDrop());
        m.put("maximal_drop", b.maximalDrop());
        m.put("message", b.getMessage());
        return m;
    }

    private static void analyse(PipelineConfig cfg, PipelineRunner.Result r, PipelineRunner.Facts f, Options opts, InferenceEngine engine,
                                Map<String, Object> layers, Map<String, Object> ranges, List<String> notes, Data data) {
        long t0 = System.nanoTime();
        Model result = f.result();
        Path scratch;
        try {
            scratch = Files.createTempDirectory("ptq-report");
        } catch (IOException e) {
            notes.add("no per-layer analysis: cannot create a scratch folder (" + e.getMessage() + ")");
            return;
        }
        try {
            LayerAnalysis la = new LayerAnalysis(engine, f.fp32(), result, cfg.engine().threads());
            List<LayerAnalysis.Layer> ls = la.layers(reasons(r.report(), result), scratch, notes);
            String role = data.role;
            int samples = 0;
            if (role != null && opts.samples() > 0) {
                Dataset ds = data.get();
                try (HostContext ctx = HostContext.builder().engine(engine).dataset(role, ds).threads(cfg.engine().threads())
                             .batchSize(cfg.engine().batchSize()).build()) {
                    int[] idx = ctx.subset(ds, Math.min(opts.samples(), ds.size()), 0, false);
                    samples = idx.length;
                    if (samples > 0) {
                        try {
                            la.measure(ls, ctx, ds, idx, cfg.engine().batchSize());
                        } catch (RuntimeException e) {       // the model is written already: report what is known
                            notes.add("per-layer errors not measured: " + e.getMessage());
                            samples = 0;
                        }
                    }
                }
            }
            Map<String, double[]> shifts = biasShifts(r.report());
            layers.put("samples", samples);
            layers.put("dataset", role);
            List<Map<String, Object>> rows = new ArrayList<>();
            for (LayerAnalysis.Layer l : ls) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", l.name);
                row.put("op", l.qOp == null || l.qOp.equals(l.op) ? l.op : l.op + " -> " + l.qOp);
                row.put("precision", l.precision);
                row.put("reason", l.why);
                row.put("weight_bits", l.weightBits);
                row.put("granularity", l.granularity);
                row.put("ort_kernel", l.kernel);
                row.put("ort_kernel_domain", l.kernelDomain);
                row.put("isolated_sqnr_db", num(l.isoSqnr()));
                row.put("isolated_cosine", num(l.isoCos()));
                row.put("accumulated_sqnr_db", num(l.accSqnr()));
                row.put("accumulated_cosine", num(l.accCos()));
                double[] sh = shifts.get(l.name);
                row.put("bias_shift_before", sh == null ? null : num(sh[0]));
                row.put("bias_shift_after", sh == null ? null : num(sh[1]));
                rows.add(row);
            }
            layers.put("rows", rows);
            long int8 = ls.stream().filter(l -> l.int8).count();
            layers.put("int8_layers", int8);
            layers.put("fp32_layers", ls.size() - int8);
            Map<String, Long> kernels = new java.util.TreeMap<>();
            for (LayerAnalysis.Layer l : ls) if (l.kernel != null) kernels.merge(l.kernel, 1L, Long::sum);
            layers.put("ort_kernels", kernels);

            List<Map<String, Object>> acts = new ArrayList<>(), weights = new ArrayList<>();
            for (LayerAnalysis.Layer l : LayerAnalysis.worst(ls, opts.worst())) {
                if (l.hist != null) {
                    Map<String, Object> a = new LinkedHashMap<>();
                    a.put("layer", l.name);
                    a.put("tensor", l.actInput);
                    a.put("isolated_sqnr_db", num(l.isoSqnr()));
                    a.put("clip_min", num(l.clipLo));
                    a.put("clip_max", num(l.clipHi));
                    a.put("hist_min", l.histLo);
                    a.put("hist_max", l.histHi);
                    List<Long> counts = new ArrayList<>();
                    for (long c : l.hist) counts.add(c);
                    a.put("counts", counts);
                    a.put("clipped_fraction", l.total == 0 ? 0.0 : (double) (l.below + l.above) / l.total);
                    a.put("below_min_fraction", l.total == 0 ? 0.0 : (double) l.below / l.total);
                    a.put("above_max_fraction", l.total == 0 ? 0.0 : (double) l.above / l.total);
                    acts.add(a);
                }
                float[][] w = LayerAnalysis.weightRanges(f.fp32(), l.name);
                if (w != null) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("layer", l.name);
                    m.put("channels", w[0].length);
                    m.put("granularity", l.granularity);
                    m.put("channel_min", floats(w[0]));
                    m.put("channel_max", floats(w[1]));
                    weights.add(m);
                }
            }
            ranges.put("activations", acts);
            ranges.put("weights", weights);
            layers.put("time_s", (System.nanoTime() - t0) / 1e9);
        } finally {
            try (var st = Files.walk(scratch)) {
                st.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) { }
        }
    }

    /** Float inputs that look like raw 0..255 pixels. */
    private static void inputRange(Dataset ds, int[] idx, String role, List<String> warnings) {
        double mn = Double.POSITIVE_INFINITY, mx = Double.NEGATIVE_INFINITY;
        boolean integral = true;
        for (int i : idx) {
            for (var t : ds.get(i).inputs().values()) {
                if (t.dtype() != org.ptq4j.spi.tensor.DType.FLOAT) return;
                var v = t.floatView();
                for (int k = 0, n = v.remaining(); k < n; k++) {
                    float x = v.get(k);
                    mn = Math.min(mn, x);
                    mx = Math.max(mx, x);
                    integral &= x == Math.rint(x);
                }
            }
        }
        if (mn >= 0 && mx > 16 && mx <= 255 && integral)
            warnings.add(String.format(Locale.ROOT, "datasets.%s: the float inputs are whole numbers in %.0f..%.0f: raw 0..255 pixels? Most models expect "
                    + "scaled input (dataset parameters scale: 0.0039215686, mean, std)", role, mn, mx));
    }

    private static Double num(double v) { return Double.isFinite(v) ? v : null; }

    private static List<Double> floats(float[] v) {
        List<Double> r = new ArrayList<>(v.length);
        for (float x : v) r.add((double) x);
        return r;
    }

    /** Why FP32 layers stayed FP32: the quantizer's "skipped" rows and accuracy-aware reverts. */
    @SuppressWarnings("unchecked")
    static Map<String, String> reasons(Map<String, Object> report, Model result) {
        Map<String, String> r = new HashMap<>();
        for (Object sec : report.values()) {
            if (!(sec instanceof Map<?, ?> m)) continue;
            if (m.get("skipped") instanceof List<?> rows)
                for (Object o : rows) if (o instanceof Map<?, ?> row && row.get("node") != null)
                    r.put(String.valueOf(row.get("node")), String.valueOf(row.get("reason")));
        }
        if (result.annotations().get("ptq.reverted_layers") instanceof List<?> l)
            for (Object o : l) r.put(String.valueOf(o), "reverted to FP32 by AccuracyAwareQuantization (accuracy budget)");
        return r;
    }

    /** Bias correction's mean |shift| before / after, by layer (the last row of a layer wins). */
    static Map<String, double[]> biasShifts(Map<String, Object> report) {
        Map<String, double[]> r = new HashMap<>();
        for (Object sec : report.values()) {
            if (!(sec instanceof Map<?, ?> m) || !(m.get("layers") instanceof List<?> rows)) continue;
            for (Object o : rows) if (o instanceof Map<?, ?> row && row.get("layer") != null
                    && row.get("mean_abs_shift_before") instanceof Number b && row.get("mean_abs_shift_after") instanceof Number a)
                r.put(String.valueOf(row.get("layer")), new double[]{b.doubleValue(), a.doubleValue()});
        }
        return r;
    }

    private static final Pattern NUMBER = Pattern.compile("^\\s*([-+0-9.eE]+)");

    /** The accuracy-aware step's candidates (drop vs FP32 layers), budget and choice; null when the pipeline had none. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> accuracyAware(Map<String, Object> report) {
        if (!(report.get("AccuracyAwareQuantization") instanceof Map<?, ?> sec)) return null;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("metric", sec.get("metric"));
        Object md = sec.get("maximal_drop");
        Double maximal = null;
        String dropType = null;
        if (md instanceof Number n) maximal = n.doubleValue();
        else if (md != null) {
            Matcher x = NUMBER.matcher(md.toString());
            if (x.find()) try { maximal = Double.parseDouble(x.group(1)); } catch (NumberFormatException ignored) { }
            dropType = md.toString().contains("relative") ? "relative" : "absolute";
        }
        m.put("maximal_drop", maximal);
        m.put("drop_type", dropType);
        m.put("fp32_value", sec.get("fp32_value") instanceof Number n ? n.doubleValue() : null);
        m.put("int8_drop", sec.get("int8_drop") instanceof Number n ? n.doubleValue() : null);
        List<Map<String, Object>> cands = new ArrayList<>();
        if (sec.get("candidates") instanceof List<?> rows)
            for (Object o : rows) {
                Map<String, Object> row = (Map<String, Object>) o, c = new LinkedHashMap<>();
                c.put("fp32_layers", row.get("fp32_layers"));
                String rev = String.valueOf(row.getOrDefault("reverted", ""));
                c.put("reverted", rev.isEmpty() ? List.of() : List.of(rev.split(",")));
                c.put("value", row.get("value"));
                c.put("drop", row.get("drop"));
                c.put("met", row.get("met"));
                cands.add(c);
            }
        m.put("candidates", cands);
        m.put("final_drop", sec.get("final_drop") instanceof Number n ? n.doubleValue() : null);
        m.put("budget_met", sec.get("budget_met"));
        m.put("chosen_fp32_layers", sec.get("reverted_layers") instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of());
        return m;
    }

    /** Every section the steps reported, keys in snake_case (values as reported). */
    static Map<String, Object> sections(Map<String, Object> report) {
        Map<String, Object> r = new LinkedHashMap<>();
        report.forEach((k, v) -> r.put(k, snake(v)));
        return r;
    }

    private static Object snake(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> r = new LinkedHashMap<>();
            m.forEach((k, x) -> r.put(snakeKey(String.valueOf(k)), snake(x)));
            return r;
        }
        if (v instanceof List<?> l) return l.stream().map(ReportDocs::snake).toList();
        if (v instanceof Path p) return p.toString();
        if (v instanceof Double x && !Double.isFinite(x)) return null;
        if (v instanceof Float x && !Float.isFinite(x)) return null;
        if (v instanceof Number || v instanceof Boolean || v instanceof String || v == null) return v;
        return String.valueOf(v);
    }

    /** "input size" -> "input_size", "left in FP32, by reason" -> "left_in_fp32_by_reason". */
    public static String snakeKey(String k) {
        String s = k.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
        return s.isEmpty() ? "_" : s;
    }
}
