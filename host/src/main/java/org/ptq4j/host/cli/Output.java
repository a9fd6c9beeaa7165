package org.ptq4j.host.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Printing for the CLI: JSON for machines, aligned tables and report sections for people. */
final class Output {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Output() {}

    static void json(PrintStream out, Object value) {
        try {
            out.println(JSON.writeValueAsString(plain(value)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Paths as strings, non-finite numbers as strings, maps and lists copied. */
    static Object plain(Object o) {
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> r = new LinkedHashMap<>();
            m.forEach((k, v) -> r.put(String.valueOf(k), plain(v)));
            return r;
        }
        if (o instanceof List<?> l) return l.stream().map(Output::plain).toList();
        if (o instanceof Path p) return p.toString();
        if (o instanceof Double d && !Double.isFinite(d)) return d.toString();
        if (o instanceof Float f && !Float.isFinite(f)) return f.toString();
        return o;
    }

    /** Rows of a report table printed for people; JSON output has them all. */
    static final int MAX_ROWS = 40;

    /** A report (section -> key -> value / table rows / notes) as indented text. */
    @SuppressWarnings("unchecked")
    static void report(PrintStream out, Map<String, Object> report) {
        for (var s : report.entrySet()) {
            out.println(s.getKey() + ":");
            if (!(s.getValue() instanceof Map<?, ?> section)) { out.println("  " + s.getValue()); continue; }
            for (var e : ((Map<String, Object>) section).entrySet()) {
                Object v = e.getValue();
                if (v instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map) {
                    List<Map<String, Object>> rows = (List<Map<String, Object>>) v;
                    out.println("  " + e.getKey() + ":");
                    table(out, rows.size() > MAX_ROWS ? rows.subList(0, MAX_ROWS) : rows, "    ");
                    if (rows.size() > MAX_ROWS) out.println("    ... " + (rows.size() - MAX_ROWS) + " more rows (--json prints them all)");
                } else if (e.getKey().equals("notes") && v instanceof List<?> l) {
                    for (Object n : l) out.println("  - " + n);
                } else {
                    out.println("  " + e.getKey() + ": " + format(v));
                }
            }
        }
    }

    static String format(Object v) {
        if (v instanceof Double d) return Math.abs(d) >= 1e-3 && Math.abs(d) < 1e6 || d == 0 ? String.format("%.4f", d) : String.format("%.4g", d);
        if (v instanceof Float f) return format((double) f);
        return String.valueOf(v);
    }

    /** Rows of maps as an aligned table (columns from the first row). */
    static void table(PrintStream out, List<Map<String, Object>> rows, String indent) {
        if (rows.isEmpty()) return;
        List<String> cols = new ArrayList<>(rows.get(0).keySet());
        List<List<String>> cells = new ArrayList<>();
        cells.add(cols);
        for (Map<String, Object> r : rows) cells.add(cols.stream().map(c -> format(r.get(c))).toList());
        int[] w = new int[cols.size()];
        for (List<String> row : cells) for (int i = 0; i < w.length; i++) w[i] = Math.max(w[i], row.get(i).length());
        for (int r = 0; r < cells.size(); r++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < w.length; i++) {
                String c = cells.get(r).get(i);
                sb.append(i == 0 ? String.format("%-" + w[i] + "s", c) : String.format("  %" + w[i] + "s", c));   // text left, numbers right
            }
            out.println(indent + sb);
            if (r == 0) out.println(indent + "-".repeat(sb.length()));
        }
    }
}
