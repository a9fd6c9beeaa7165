package org.ptq4j.host.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders a report document ({@link ReportDocs}) as one self-contained HTML file: inline CSS, charts as inline
 * SVG (class {@code chart}), a few lines of inline script to sort tables. No network access.
 */
public final class HtmlReport {
    private HtmlReport() {}

    private static final String[] COLORS = {"#3366cc", "#ff9900", "#109618", "#dc3912", "#990099"};

    public static String render(Map<String, Object> doc) {
        StringBuilder h = new StringBuilder(64 * 1024);
        String kind = String.valueOf(doc.get("kind"));
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ptq ").append(esc(kind)).append(" report</title>\n<style>")
                .append("body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}")
                .append("h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:14px;margin:16px 0 4px}")
                .append("table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;white-space:nowrap}.kv td{white-space:normal}")
                .append("th{background:#f4f4f4;cursor:pointer;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}")
                .append("tr.int8 td:first-child{border-left:3px solid #3366cc}tr.fp32 td:first-child{border-left:3px solid #aaa}")
                .append(".kv td:first-child{font-weight:600;width:220px}.warn{background:#fff4e5;border-left:4px solid #f90;padding:6px 10px;margin:4px 0}")
                .append(".note{background:#eef4ff;border-left:4px solid #36c;padding:6px 10px;margin:4px 0}.charts{display:flex;flex-wrap:wrap;gap:16px}")
                .append("svg.chart{background:#fff;border:1px solid #eee}svg text{font-size:11px;fill:#333}.scroll{overflow-x:auto}")
                .append("</style></head><body>\n");
        h.append("<h1>ptq ").append(esc(kind)).append(" report</h1>\n<p>ptq ").append(esc(doc.get("ptq_version"))).append(", report format version ")
                .append(esc(doc.get("version"))).append("</p>\n");
        switch (kind) {
            case "quantize" -> quantize(h, doc);
            case "evaluate" -> evaluate(h, doc);
            case "benchmark" -> benchmark(h, doc);
            default -> h.append("<pre>").append(esc(doc)).append("</pre>");
        }
        h.append("<script>\n").append(SORT_JS).append("</script>\n</body></html>\n");
        return h.toString();
    }

    /** Click a header to sort a table.sortable by that column (numbers numerically, empty cells last). */
    private static final String SORT_JS = """
            document.querySelectorAll('table.sortable').forEach(function(t){
              t.querySelectorAll('th').forEach(function(th,i){
                th.addEventListener('click',function(){
                  var asc=th.dataset.dir!=='asc'; th.dataset.dir=asc?'asc':'desc';
                  var b=t.tBodies[0], rows=Array.prototype.slice.call(b.rows);
                  rows.sort(function(x,y){
                    var a=x.cells[i].dataset.v!==undefined?x.cells[i].dataset.v:x.cells[i].textContent;
                    var c=y.cells[i].dataset.v!==undefined?y.cells[i].dataset.v:y.cells[i].textContent;
                    if(a===''&&c!=='')return 1; if(c===''&&a!=='')return -1;
                    var na=parseFloat(a), nc=parseFloat(c);
                    var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);
                    return asc?r:-r;});
                  rows.forEach(function(r){b.appendChild(r);});
                });
              });
            });
            """;

    // ---------------------------------------------------------------- quantize

    @SuppressWarnings("unchecked")
    private static void quantize(StringBuilder h, Map<String, Object> doc) {
        Map<String, Object> s = (Map<String, Object>) doc.get("summary");
        h.append("<section id=\"summary\"><h2>Summary</h2>\n");
        for (Object w : (List<Object>) s.getOrDefault("warnings", List.of())) h.append("<div class=\"warn\">warning: ").append(esc(w)).append("</div>\n");
        Map<String, Object> budget = (Map<String, Object>) s.get("budget");
        if (budget != null)
            h.append("<div class=\"warn\"><b>Budget not met</b> (").append(esc(budget.get("metric"))).append("): drop ").append(fmt(budget.get("drop")))
                    .append(" &gt; maximal_drop ").append(fmt(budget.get("maximal_drop"))).append(". ").append(esc(budget.get("message"))).append("</div>\n");
        h.append("<table class=\"kv\">");
        kv(h, "model", s.get("model"));
        kv(h, "output", s.get("output"));
        kv(h, "size", bytes(s.get("input_bytes")) + " \u2192 " + bytes(s.get("output_bytes"))
                + (s.get("size_ratio") instanceof Number r ? String.format(Locale.ROOT, " (%.2fx smaller)", r.doubleValue()) : ""));
        Map<String, Object> m = (Map<String, Object>) s.get("metric");
        if (m != null) {
            kv(h, "metric", m.get("name") + " on " + m.get("samples") + " samples");
            kv(h, "FP32", fmt(m.get("fp32")) + ci(m.get("fp32_ci95")));
            kv(h, "INT8", fmt(m.get("int8")) + ci(m.get("int8_ci95")));
            kv(h, "delta", fmt(m.get("delta")));
        }
        if (s.get("calibration_samples") != null) kv(h, "calibration samples", s.get("calibration_samples") + " (requested " + s.get("calibration_samples_requested") + ")");
        kv(h, "total time", fmt(s.get("time_s")) + " s");
        Map<String, Object> cpu = (Map<String, Object>) s.get("cpu");
        kv(h, "CPU", cpu.get("model") + " (" + cpu.get("arch") + ")");
        kv(h, "CPU int8", cpu.get("int8_path") + "; flags: " + String.join(" ", (List<String>) cpu.get("int8_flags")) + "; fast: " + cpu.get("int8_fast")
                + "; int16 saturation: " + cpu.get("int8_saturates"));
        Map<String, Object> speed = (Map<String, Object>) s.get("speed");
        if (speed != null)
            kv(h, "speed here", String.format(Locale.ROOT, "FP32 %.2f ms, INT8 %.2f ms per sample (%.2fx; batch 1, %s thread(s), median of %s runs; ptq benchmark measures properly)",
                    d(speed.get("fp32_median_ms")), d(speed.get("int8_median_ms")), d(speed.get("speedup")), speed.get("threads"), speed.get("runs")));
        kv(h, "ONNX Runtime", s.get("onnxruntime"));
        h.append("</table>\n");
        for (Object n : (List<Object>) s.getOrDefault("notes", List.of())) h.append("<div class=\"note\">").append(esc(n)).append("</div>\n");
        h.append("<div class=\"charts\">");
        if (m != null) {
            List<Double> lo = new ArrayList<>(), hi = new ArrayList<>();
            for (String k : List.of("fp32_ci95", "int8_ci95")) {
                List<Number> c = (List<Number>) m.get(k);
                lo.add(c == null ? null : c.get(0).doubleValue());
                hi.add(c == null ? null : c.get(1).doubleValue());
            }
            h.append(bars("metric", m.get("name") + " (95% interval)", List.of("FP32", "INT8"),
                    List.of(List.of(d(m.get("fp32")), d(m.get("int8")))), List.of(String.valueOf(m.get("name"))), lo, hi, null, 260, false));
        }
        if (speed != null)
            h.append(bars("speed", "latency here (ms, batch 1)", List.of("FP32", "INT8"),
                    List.of(List.of(d(speed.get("fp32_median_ms")), d(speed.get("int8_median_ms")))), List.of("ms"), null, null, null, 260, false));
        h.append(bars("size", "model size (MB)", List.of("FP32", "INT8"),
                List.of(List.of(d(s.get("input_bytes")) / 1e6, d(s.get("output_bytes")) / 1e6)), List.of("MB"), null, null, null, 260, false));
        List<Map<String, Object>> steps = (List<Map<String, Object>>) s.get("steps");
        if (!steps.isEmpty()) {
            List<String> names = new ArrayList<>();
            List<Double> t = new ArrayList<>();
            for (Map<String, Object> st : steps) { names.add(String.valueOf(st.get("algorithm"))); t.add(d(st.get("time_s"))); }
            Object rt = doc.get("report_time_s");
            h.append(bars("steps", "time per step (s)", names, List.of(t), List.of("s"), null, null, null, Math.max(260, 90 * names.size()), false));
            if (rt != null) h.append("<p>report built in ").append(fmt(rt)).append(" s</p>");
        }
        h.append("</div></section>\n");

        layers(h, (Map<String, Object>) doc.get("layers"));
        ranges(h, (Map<String, Object>) doc.get("ranges"));
        accuracyAware(h, (Map<String, Object>) doc.get("accuracy_aware"));
        Map<String, Object> sections = (Map<String, Object>) doc.get("sections");
        if (sections != null && !sections.isEmpty()) {
            h.append("<section id=\"steps\"><h2>What each step reported</h2>\n");
            sections.forEach((name, v) -> {
                h.append("<h3>").append(esc(name)).append("</h3>");
                if (v instanceof Map<?, ?> sec) {
                    h.append("<table class=\"kv\">");
                    sec.forEach((k, x) -> {
                        if (x instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map) {
                            h.append("<tr><td>").append(esc(k)).append("</td><td>");
                            table(h, (List<Map<String, Object>>) l, 60);
                            h.append("</td></tr>");
                        } else kv(h, String.valueOf(k), x instanceof Double ? fmt(x) : x);
                    });
                    h.append("</table>");
                }
            });
            h.append("</section>\n");
        }
    }

    @SuppressWarnings("unchecked")
    private static void layers(StringBuilder h, Map<String, Object> layers) {
        h.append("<section id=\"layers\"><h2>Per layer</h2>\n");
        List<Map<String, Object>> rows = (List<Map<String, Object>>) layers.getOrDefault("rows", List.of());
        if (rows.isEmpty()) {
            h.append("<p>No Conv / Gemm / MatMul layers were analysed.</p></section>\n");
            return;
        }
        h.append("<p>").append(layers.get("int8_layers")).append(" INT8 and ").append(layers.get("fp32_layers")).append(" FP32 layers; errors of each layer's output vs FP32 on ")
                .append(layers.get("samples")).append(" ").append(esc(layers.get("dataset"))).append(" samples. <b>isolated</b>: the layer's quantized computation fed the FP32 model's own inputs; "
                        + "<b>accumulated</b>: the quantized model's output of that layer (earlier layers' errors included). ONNX Runtime kernels: ")
                .append(esc(layers.get("ort_kernels"))).append(".</p>\n");
        List<String> names = new ArrayList<>();
        List<Double> iso = new ArrayList<>(), acc = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            names.add(String.valueOf(r.get("name")));
            iso.add(r.get("isolated_sqnr_db") instanceof Number n ? n.doubleValue() : null);
            acc.add(r.get("accumulated_sqnr_db") instanceof Number n ? n.doubleValue() : null);
        }
        h.append("<div class=\"scroll\">").append(bars("layer-sqnr", "SQNR vs FP32 (dB), layers in graph order", names, List.of(iso, acc),
                List.of("isolated", "accumulated"), null, null, null, Math.max(700, 14 * names.size() + 80), true)).append("</div>\n");
        h.append("<p>Click a column to sort.</p><div class=\"scroll\">");
        table(h, rows, Integer.MAX_VALUE);
        h.append("</div></section>\n");
    }

    @SuppressWarnings("unchecked")
    private static void ranges(StringBuilder h, Map<String, Object> ranges) {
        h.append("<section id=\"ranges\"><h2>Ranges</h2>\n");
        List<Map<String, Object>> acts = (List<Map<String, Object>>) ranges.getOrDefault("activations", List.of());
        List<Map<String, Object>> ws = (List<Map<String, Object>>) ranges.getOrDefault("weights", List.of());
        if (acts.isEmpty() && ws.isEmpty()) {
            h.append("<p>No quantized layer was measured.</p></section>\n");
            return;
        }
        h.append("<p>The layers with the lowest isolated SQNR. Activation histograms of the FP32 tensor the layer's input quantizer reads (log scale) with its clipping range "
                + "(red; below the minimum of a uint8 range with zero point 0 is a ReLU folded into the quantizer); per-output-channel weight ranges (min..max) of the FP32 weights.</p>\n<div class=\"charts\">");
        for (Map<String, Object> a : acts) h.append(histogram(a));
        h.append("</div><div class=\"charts\">");
        for (Map<String, Object> w : ws) h.append(channelRanges(w));
        h.append("</div></section>\n");
    }

    @SuppressWarnings("unchecked")
    private static void accuracyAware(StringBuilder h, Map<String, Object> aa) {
        if (aa == null) return;
        h.append("<section id=\"accuracy-aware\"><h2>Accuracy-aware</h2>\n");
        List<Map<String, Object>> c = (List<Map<String, Object>>) aa.get("candidates");
        h.append("<p>metric ").append(esc(aa.get("metric"))).append(", maximal drop ").append(fmt(aa.get("maximal_drop"))).append(" (").append(esc(aa.get("drop_type")))
                .append("); fully INT8 drop ").append(fmt(aa.get("int8_drop"))).append("; chosen: ").append(((List<?>) aa.get("chosen_fp32_layers")).size())
                .append(" FP32 layer(s) ").append(esc(aa.get("chosen_fp32_layers"))).append(", drop ").append(fmt(aa.get("final_drop")))
                .append(Boolean.TRUE.equals(aa.get("budget_met")) ? " (budget met)" : " (budget NOT met)").append("</p>\n");
        h.append(scatter(aa));
        if (!c.isEmpty()) table(h, c, Integer.MAX_VALUE);
        h.append("</section>\n");
    }

    // ---------------------------------------------------------------- evaluate / benchmark

    @SuppressWarnings("unchecked")
    private static void evaluate(StringBuilder h, Map<String, Object> doc) {
        List<Map<String, Object>> rows = (List<Map<String, Object>>) doc.get("results");
        h.append("<section id=\"summary\"><h2>Summary</h2><p>metric ").append(esc(doc.get("metric"))).append("</p>");
        table(h, rows, Integer.MAX_VALUE);
        List<String> names = new ArrayList<>();
        List<Double> v = new ArrayList<>(), lo = new ArrayList<>(), hi = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            names.add(shortName(r.get("model")));
            v.add(d(r.get("value")));
            List<Number> c = (List<Number>) r.get("ci95");
            lo.add(c == null ? null : c.get(0).doubleValue());
            hi.add(c == null ? null : c.get(1).doubleValue());
        }
        h.append(bars("metric", doc.get("metric") + " (95% interval)", names, List.of(v), List.of(String.valueOf(doc.get("metric"))), lo, hi, null,
                Math.max(300, 120 * names.size()), false));
        h.append("</section>");
    }

    @SuppressWarnings("unchecked")
    private static void benchmark(StringBuilder h, Map<String, Object> doc) {
        List<Map<String, Object>> rows = (List<Map<String, Object>>) doc.get("results");
        h.append("<section id=\"summary\"><h2>Summary</h2><p>batch ").append(doc.get("batch")).append(", ").append(doc.get("threads")).append(" thread(s), ")
                .append(doc.get("runs")).append(" interleaved runs; CPU ").append(esc(((Map<String, Object>) doc.get("cpu")).get("model"))).append("</p>");
        if (doc.get("note") != null) h.append("<div class=\"note\">").append(esc(doc.get("note"))).append("</div>");
        table(h, rows, Integer.MAX_VALUE);
        List<String> names = new ArrayList<>();
        List<Double> med = new ArrayList<>(), p90 = new ArrayList<>();
        for (Map<String, Object> r : rows) { names.add(shortName(r.get("model"))); med.add(d(r.get("median_ms"))); p90.add(d(r.get("p90_ms"))); }
        h.append(bars("latency", "latency (ms)", names, List.of(med, p90), List.of("median", "p90"), null, null, null, Math.max(300, 140 * names.size()), false));
        h.append("</section>");
    }

    // ---------------------------------------------------------------- charts

    /**
     * A bar chart: one group per label, one bar per series; optional error bars (first series) and a horizontal
     * reference line.
     */
    static String bars(String id, String title, List<String> labels, List<List<Double>> series, List<String> seriesNames,
                       List<Double> lo, List<Double> hi, Double refLine, int width, boolean rotateLabels) {
        int height = rotateLabels ? 340 : 240, left = 56, right = 12, top = 28, bottom = rotateLabels ? 120 : 40;
        double min = 0, max = 0;
        for (List<Double> s : series) for (Double v : s) if (v != null) { min = Math.min(min, v); max = Math.max(max, v); }
        if (hi != null) for (Double v : hi) if (v != null) max = Math.max(max, v);
        if (refLine != null) max = Math.max(max, refLine);
        if (max == min) max = min + 1;
        double[] ticks = ticks(min, max);
        min = ticks[0];
        max = ticks[ticks.length - 1];
        int pw = width - left - right, ph = height - top - bottom;
        StringBuilder g = svgOpen(id, width, height, title);
        axis(g, ticks, min, max, left, top, pw, ph);
        int groups = labels.size(), k = series.size();
        double gw = (double) pw / Math.max(1, groups), bw = Math.max(1, gw * 0.8 / k);
        final double mn = min, mx = max;
        java.util.function.DoubleUnaryOperator y = v -> top + ph - (v - mn) / (mx - mn) * ph;
        for (int i = 0; i < groups; i++) {
            for (int j = 0; j < k; j++) {
                Double v = series.get(j).get(i);
                if (v == null) continue;
                double x = left + i * gw + gw * 0.1 + j * bw, y0 = y.applyAsDouble(0), y1 = y.applyAsDouble(v);
                g.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s %s: %s</title></rect>",
                        x, Math.min(y0, y1), bw, Math.max(0.5, Math.abs(y1 - y0)), COLORS[j % COLORS.length], esc(labels.get(i)), esc(seriesNames.get(j)), fmt(v)));
                if (j == 0 && lo != null && lo.get(i) != null && hi.get(i) != null) {
                    double cx = x + bw / 2;
                    g.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>", cx, cx, y.applyAsDouble(lo.get(i)), y.applyAsDouble(hi.get(i))));
                    for (double e : new double[]{lo.get(i), hi.get(i)})
                        g.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>", cx - 5, cx + 5, y.applyAsDouble(e), y.applyAsDouble(e)));
                }
            }
            double lx = left + i * gw + gw / 2, ly = top + ph + 12;
            if (rotateLabels) g.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-60 %.1f %.1f)\" text-anchor=\"end\" style=\"font-size:9px\">%s</text>",
                    lx, ly, lx, ly, esc(abbrev(labels.get(i), 24))));
            else g.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", lx, ly + 4, esc(abbrev(labels.get(i), Math.max(6, (int) (gw / 6.5))))));
        }
        if (refLine != null)
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#dc3912\" stroke-dasharray=\"4 3\"/>", left, left + pw, y.applyAsDouble(refLine), y.applyAsDouble(refLine)));
        if (k > 1) legend(g, seriesNames, width - right - 110, top + 4);
        return g.append("</svg>").toString();
    }

    @SuppressWarnings("unchecked")
    static String histogram(Map<String, Object> a) {
        List<Number> counts = (List<Number>) a.get("counts");
        double lo = d(a.get("hist_min")), hi = d(a.get("hist_max"));
        int width = 360, height = 220, left = 44, right = 10, top = 28, bottom = 36, pw = width - left - right, ph = height - top - bottom;
        double maxLog = 0;
        for (Number c : counts) maxLog = Math.max(maxLog, Math.log10(1 + c.doubleValue()));
        if (maxLog == 0) maxLog = 1;
        StringBuilder g = svgOpen("hist-" + a.get("layer"), width, height, abbrev(String.valueOf(a.get("layer")), 44) + " input");
        double bw = (double) pw / counts.size();
        for (int i = 0; i < counts.size(); i++) {
            double v = Math.log10(1 + counts.get(i).doubleValue()) / maxLog * ph;
            g.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3366cc\"><title>%s</title></rect>",
                    left + i * bw, top + ph - v, Math.max(0.5, bw - 0.5), Math.max(0.5, v), counts.get(i)));
        }
        g.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>", left, left + pw, top + ph, top + ph));
        for (String k : List.of("clip_min", "clip_max")) {
            if (!(a.get(k) instanceof Number n)) continue;
            double x = left + (n.doubleValue() - lo) / (hi - lo) * pw;
            g.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#dc3912\" stroke-width=\"2\"><title>%s %s</title></line>", x, x, top, top + ph, k, fmt(n)));
        }
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>",
                left, top + ph + 14, fmt(lo), left + pw, top + ph + 14, fmt(hi)));
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" fill=\"#dc3912\">clip %s .. %s: %.1f%% below, %.2f%% above</text>", left, top + ph + 28,
                fmt(a.get("clip_min")), fmt(a.get("clip_max")), 100 * d(a.get("below_min_fraction")), 100 * d(a.get("above_max_fraction"))));
        return g.append("</svg>").toString();
    }

    @SuppressWarnings("unchecked")
    static String channelRanges(Map<String, Object> w) {
        List<Number> mn = (List<Number>) w.get("channel_min"), mx = (List<Number>) w.get("channel_max");
        int n = mn.size(), width = Math.max(360, Math.min(1100, 3 * n + 60)), height = 220, left = 50, right = 10, top = 28, bottom = 24;
        int pw = width - left - right, ph = height - top - bottom;
        double lo = 0, hi = 0;
        for (int i = 0; i < n; i++) { lo = Math.min(lo, mn.get(i).doubleValue()); hi = Math.max(hi, mx.get(i).doubleValue()); }
        if (hi == lo) hi = lo + 1;
        double[] ticks = ticks(lo, hi);
        lo = ticks[0];
        hi = ticks[ticks.length - 1];
        StringBuilder g = svgOpen("weights-" + w.get("layer"), width, height, abbrev(String.valueOf(w.get("layer")), Math.max(20, width / 7 - 26)) + ": " + n + " output channels, "
                + (w.get("granularity") == null ? "FP32" : w.get("granularity")));
        axis(g, ticks, lo, hi, left, top, pw, ph);
        double step = (double) pw / n;
        StringBuilder path = new StringBuilder();
        for (int i = 0; i < n; i++) {
            double x = left + (i + 0.5) * step;
            double y1 = top + ph - (mx.get(i).doubleValue() - lo) / (hi - lo) * ph, y0 = top + ph - (mn.get(i).doubleValue() - lo) / (hi - lo) * ph;
            path.append(String.format(Locale.ROOT, "M%.1f %.1fV%.1f", x, y0, y1));
        }
        g.append("<path d=\"").append(path).append("\" stroke=\"#109618\" stroke-width=\"").append(String.format(Locale.ROOT, "%.1f", Math.max(1, step * 0.7))).append("\" fill=\"none\"/>");
        return g.append("</svg>").toString();
    }

    @SuppressWarnings("unchecked")
    static String scatter(Map<String, Object> aa) {
        List<Map<String, Object>> c = (List<Map<String, Object>>) aa.get("candidates");
        int width = 520, height = 260, left = 56, right = 16, top = 28, bottom = 40, pw = width - left - right, ph = height - top - bottom;
        double xmax = 1, ymin = 0, ymax = 0;
        List<double[]> pts = new ArrayList<>();
        Object i8 = aa.get("int8_drop");
        if (i8 instanceof Number n) pts.add(new double[]{0, n.doubleValue(), 0});
        for (Map<String, Object> r : c) pts.add(new double[]{d(r.get("fp32_layers")), d(r.get("drop")), Boolean.TRUE.equals(r.get("met")) ? 1 : 0});
        Double budget = aa.get("maximal_drop") instanceof Number n ? n.doubleValue() : null;
        for (double[] p : pts) { xmax = Math.max(xmax, p[0]); ymin = Math.min(ymin, p[1]); ymax = Math.max(ymax, p[1]); }
        if (budget != null) ymax = Math.max(ymax, budget);
        if (ymax == ymin) ymax = ymin + 1;
        double[] ticks = ticks(ymin, ymax);
        double lo = ticks[0], hi = ticks[ticks.length - 1], xm = xmax;
        StringBuilder g = svgOpen("aa-candidates", width, height, "drop vs number of FP32 layers (green: within budget)");
        axis(g, ticks, lo, hi, left, top, pw, ph);
        for (double[] p : pts) {
            double x = left + p[0] / xm * pw, y = top + ph - (p[1] - lo) / (hi - lo) * ph;
            g.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>%d FP32 layers: drop %s</title></circle>",
                    x, y, p[2] > 0 ? "#109618" : "#dc3912", (int) p[0], fmt(p[1])));
        }
        if (budget != null) {
            double y = top + ph - (budget - lo) / (hi - lo) * ph;
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#dc3912\" stroke-dasharray=\"5 4\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#dc3912\">budget %s</text>",
                    left, left + pw, y, y, left + pw, y - 4, fmt(budget)));
        }
        for (int x = 0; x <= (int) xm; x += Math.max(1, (int) Math.ceil(xm / 10)))
            g.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>", left + x / xm * pw, top + ph + 16, x));
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">FP32 layers</text>", left + pw / 2, top + ph + 32));
        return g.append("</svg>").toString();
    }

    private static StringBuilder svgOpen(String id, int w, int h, String title) {
        StringBuilder g = new StringBuilder(4096);
        g.append(String.format(Locale.ROOT, "<svg class=\"chart\" id=\"chart-%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">",
                esc(id.replaceAll("[^A-Za-z0-9_-]", "_")), w, h, w, h));
        g.append("<text x=\"8\" y=\"16\" style=\"font-weight:600;font-size:12px\">").append(esc(title)).append("</text>");
        return g;
    }

    private static void axis(StringBuilder g, double[] ticks, double min, double max, int left, int top, int pw, int ph) {
        for (double t : ticks) {
            double y = top + ph - (t - min) / (max - min) * ph;
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                    left, left + pw, y, y, t == 0 ? "#999" : "#eee", left - 4, y + 4, fmtTick(t)));
        }
    }

    private static void legend(StringBuilder g, List<String> names, int x, int y) {
        for (int i = 0; i < names.size(); i++)
            g.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>",
                    x, y + i * 14, COLORS[i % COLORS.length], x + 14, y + i * 14 + 9, esc(names.get(i))));
    }

    /** About five round tick values covering [min, max]. */
    static double[] ticks(double min, double max) {
        double span = max - min, raw = span / 5, mag = Math.pow(10, Math.floor(Math.log10(raw))), step;
        double r = raw / mag;
        step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
        double lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step;
        int n = (int) Math.round((hi - lo) / step) + 1;
        double[] t = new double[Math.max(2, n)];
        for (int i = 0; i < t.length; i++) t[i] = lo + i * step;
        return t;
    }

    // ---------------------------------------------------------------- tables and text

    static void table(StringBuilder h, List<Map<String, Object>> rows, int max) {
        if (rows.isEmpty()) return;
        List<String> cols = new ArrayList<>();
        for (Map<String, Object> r : rows) for (String k : r.keySet()) if (!cols.contains(k)) cols.add(k);
        h.append("<table class=\"sortable\"><thead><tr>");
        for (String c : cols) h.append("<th>").append(esc(c)).append("</th>");
        h.append("</tr></thead><tbody>\n");
        int n = 0;
        for (Map<String, Object> r : rows) {
            if (n++ >= max) break;
            Object p = r.get("precision");
            h.append(p == null ? "<tr>" : "<tr class=\"" + esc(p) + "\">");
            for (String c : cols) {
                Object v = r.get(c);
                if (v instanceof Number num) h.append("<td class=\"n\" data-v=\"").append(num).append("\">").append(fmt(v)).append("</td>");
                else h.append("<td>").append(v == null ? "" : esc(v instanceof List<?> l && l.size() > 20 ? l.subList(0, 20) + " ..." : v)).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody></table>");
        if (rows.size() > max) h.append("<p>... ").append(rows.size() - max).append(" more rows in the JSON report</p>");
    }

    private static void kv(StringBuilder h, String k, Object v) {
        h.append("<tr><td>").append(esc(k)).append("</td><td>").append(esc(v)).append("</td></tr>");
    }

    private static String ci(Object c) {
        if (!(c instanceof List<?> l) || l.size() != 2) return "";
        return " (95% interval " + fmt(l.get(0)) + " .. " + fmt(l.get(1)) + ")";
    }

    static String fmt(Object v) {
        if (v == null) return "";
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) return String.valueOf(d);
            return d == 0 || Math.abs(d) >= 1e-3 && Math.abs(d) < 1e5 ? String.format(Locale.ROOT, "%.4f", d) : String.format(Locale.ROOT, "%.3g", d);
        }
        return String.valueOf(v);
    }

    private static String fmtTick(double t) {
        return Math.abs(t) >= 1e-3 && Math.abs(t) < 1e5 || t == 0 ? String.format(Locale.ROOT, "%.4g", t) : String.format(Locale.ROOT, "%.2g", t);
    }

    private static String bytes(Object v) {
        if (!(v instanceof Number n)) return "?";
        double b = n.doubleValue();
        return b < 1024 * 1024 ? String.format(Locale.ROOT, "%.1f KB", b / 1024) : String.format(Locale.ROOT, "%.2f MB", b / 1024 / 1024);
    }

    private static double d(Object v) { return v instanceof Number n ? n.doubleValue() : Double.NaN; }

    private static String shortName(Object p) {
        String s = String.valueOf(p);
        int i = s.lastIndexOf('/');
        return i < 0 ? s : s.substring(i + 1);
    }

    private static String abbrev(String s, int n) { return s.length() <= n ? s : "\u2026" + s.substring(s.length() - n + 1); }

    static String esc(Object o) {
        String s = String.valueOf(o);
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
