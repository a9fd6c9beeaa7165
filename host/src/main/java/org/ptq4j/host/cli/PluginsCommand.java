package org.ptq4j.host.cli;

import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.param.ParamSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ptq plugins}: installed plugins, load failures, and every algorithm / dataset / metric with its parameters. */
@Command(name = "plugins", mixinStandardHelpOptions = true,
        description = "List installed plugins (with versions) and every algorithm, dataset type and metric with its parameters and defaults.")
final class PluginsCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @Option(names = "--json", description = "machine-readable output") boolean json;

    @Override
    public Integer call() {
        PluginLoader.Result r = main.plugins();
        Registry reg = r.registry();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("ptq", Main.version());
        List<Map<String, Object>> plugins = new ArrayList<>();
        for (PluginLoader.PluginInfo p : r.plugins()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", p.id());
            m.put("version", p.version());
            m.put("provider", p.provider());
            m.put("description", p.description());
            m.put("path", p.path());
            m.put("extensions", p.extensions());
            plugins.add(m);
        }
        doc.put("plugins", plugins);
        doc.put("failures", r.failures().stream().map(f -> Map.of("id", f.pluginId(), "path", String.valueOf(f.path()), "cause", f.cause())).toList());
        doc.put("warnings", r.warnings());
        List<Map<String, Object>> algs = new ArrayList<>(), ds = new ArrayList<>(), ms = new ArrayList<>();
        reg.algorithms().forEach((n, a) -> algs.add(entry("name", n, a.description(), reg.provider(a), a.parameters())));
        reg.datasets().forEach((n, d) -> ds.add(entry("type", n, d.description(), reg.provider(d), org.ptq4j.host.pipeline.DatasetSelection.parameters(d))));
        reg.metrics().forEach((n, m) -> ms.add(entry("type", n, m.description(), reg.provider(m), m.parameters())));
        doc.put("algorithms", algs);
        doc.put("datasets", ds);
        doc.put("metrics", ms);
        if (json) Output.json(main.out, org.ptq4j.host.report.ReportDocs.plugins(doc, Main.version()));
        else text(main.out, r, algs, ds, ms);
        return 0;
    }

    private static Map<String, Object> entry(String key, String name, String description, String provider, List<ParamSpec> params) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(key, name);
        m.put("description", description);
        m.put("plugin", provider);
        m.put("parameters", params.stream().map(PluginsCommand::param).toList());
        return m;
    }

    static Map<String, Object> param(ParamSpec s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("type", s.type().name());
        m.put("default", s.defaultValue());
        m.put("required", s.required());
        m.put("description", s.description());
        if (!s.choices().isEmpty()) m.put("choices", s.choices());
        if (s.min() != null) m.put("min", s.min());
        if (s.max() != null) m.put("max", s.max());
        if (!s.children().isEmpty()) m.put("children", s.children().stream().map(PluginsCommand::param).toList());
        if (s.embeds() != null) m.put("parameters_of", s.embeds().algorithm() != null ? s.embeds().algorithm() : "the algorithm named by " + s.embeds().algorithmKey());
        return m;
    }

    @SuppressWarnings("unchecked")
    private static void text(PrintStream out, PluginLoader.Result r, List<Map<String, Object>> algs, List<Map<String, Object>> ds, List<Map<String, Object>> ms) {
        out.println("Plugins:");
        if (r.plugins().isEmpty()) out.println("  (none loaded from plugin folders)");
        for (PluginLoader.PluginInfo p : r.plugins())
            out.println("  " + p.id() + " " + p.version() + "  " + p.path() + "  [" + String.join(", ", p.extensions()) + "]");
        for (PluginLoader.Failure f : r.failures()) out.println("  FAILED " + f.pluginId() + "  " + f.path() + ": " + f.cause());
        for (String w : r.warnings()) out.println("  WARNING " + w);
        section(out, "Algorithms", "name", algs);
        section(out, "Datasets (type)", "type", ds);
        section(out, "Metrics (type)", "type", ms);
    }

    @SuppressWarnings("unchecked")
    private static void section(PrintStream out, String title, String key, List<Map<String, Object>> items) {
        out.println();
        out.println(title + ":");
        for (Map<String, Object> it : items) {
            out.println("  " + it.get(key) + "  (" + it.get("plugin") + ") - " + it.get("description"));
            params(out, (List<Map<String, Object>>) it.get("parameters"), "      ");
        }
    }

    @SuppressWarnings("unchecked")
    private static void params(PrintStream out, List<Map<String, Object>> ps, String indent) {
        for (Map<String, Object> p : ps) {
            StringBuilder sb = new StringBuilder(indent).append(p.get("name")).append(": ").append(p.get("type").toString().toLowerCase());
            if (p.containsKey("choices")) sb.append(" ").append(p.get("choices"));
            if (p.containsKey("parameters_of")) sb.append(" (parameters of ").append(p.get("parameters_of")).append(")");
            if (p.containsKey("min") || p.containsKey("max"))
                sb.append(" [").append(p.containsKey("min") ? ParamValidatorFmt.fmt((Double) p.get("min")) : "-inf").append(", ")
                        .append(p.containsKey("max") ? ParamValidatorFmt.fmt((Double) p.get("max")) : "inf").append("]");
            if (Boolean.TRUE.equals(p.get("required"))) sb.append(", required");
            else if (p.get("default") != null && !(p.get("default") instanceof List<?> l && l.isEmpty())) sb.append(" = ").append(p.get("default"));
            if (p.get("description") != null) sb.append("  -- ").append(p.get("description"));
            out.println(sb);
            if (p.containsKey("children")) params(out, (List<Map<String, Object>>) p.get("children"), indent + "  ");
        }
    }

    /** Number formatting shared with the validator's messages. */
    private static final class ParamValidatorFmt {
        static String fmt(double d) { return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d); }
    }
}
