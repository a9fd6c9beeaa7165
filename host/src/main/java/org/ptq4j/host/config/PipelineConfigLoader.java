package org.ptq4j.host.config;

import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.MetricFactory;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads and validates a pipeline YAML file completely before anything runs:
 * <pre>
 * model: models/fmnist_cnn.onnx              # required, relative to this file's folder
 * output: out/fmnist_cnn_int8.onnx           # required
 * engine: {threads: 1, batch_size: 32}       # optional
 * datasets:                                  # roles: calibration, validation
 *   calibration: {type: numpy, path: data/calib.npy}
 * metric: {type: accuracy}                   # optional
 * pipeline:                                  # one or more steps, applied in order
 *   - algorithm: DefaultQuantization
 *     params: {preset: performance}
 * </pre>
 * All problems are collected and thrown together as a {@link ConfigException}.
 */
public final class PipelineConfigLoader {
    static final List<String> ROLES = List.of(PipelineContext.CALIBRATION, PipelineContext.VALIDATION);
    /** Ranges of engine.threads and engine.batch_size; the CLI's --threads / --batch-size have the same. */
    public static final int MAX_THREADS = 256, MAX_BATCH_SIZE = 65536;
    static final List<ParamSpec> TOP = List.of(
            ParamSpec.path("model", "the FP32 ONNX model to quantize").asRequired(),
            ParamSpec.path("output", "where the quantized model is written").asRequired(),
            ParamSpec.map("engine", "inference settings",
                    ParamSpec.integer("threads", 1, "intra-op threads per session (0: ONNX Runtime default)").withRange(0d, (double) MAX_THREADS),
                    ParamSpec.integer("batch_size", 32, "samples per inference call").withRange(1d, (double) MAX_BATCH_SIZE)),
            ParamSpec.map("cluster", "where statistics and evaluation run (default: this JVM); see docs/SPARK.md",
                    ParamSpec.string("type", "local", "local (this JVM) or an installed cluster type such as spark"),
                    ParamSpec.string("master", null, "cluster master URL, e.g. local[*], local[2], spark://host:7077 (default: the one spark-submit sets, else local[*])"),
                    ParamSpec.integer("partitions", 0, "shards per pass (0: the cluster's default parallelism)").withRange(0d, 100000d),
                    ParamSpec.integer("max_failures", 4, "attempts per task before the pass fails (Spark's spark.task.maxFailures; also applied to local masters)").withRange(1d, 100d),
                    ParamSpec.path("work_dir", "folder on storage every executor reads, for models made during the run (default: a scratch folder of this machine)"),
                    ParamSpec.anyMap("conf", "extra cluster settings, e.g. {spark.executor.memory: 4g}")),
            ParamSpec.map("report", "the quantization report (ptq quantize; --report on the command line wins)",
                    ParamSpec.string("html", null, "self-contained HTML report to write (relative to the YAML file)"),
                    ParamSpec.string("json", null, "the same report as JSON (ptq-report.schema.json)"),
                    ParamSpec.integer("samples", 8, "samples the per-layer error analysis runs (0: none)").withRange(0d, 100000d),
                    ParamSpec.integer("worst_layers", 6, "layers with the lowest SQNR that get range charts").withRange(0d, 1000d)));

    private final Registry registry;
    private final Function<String, String> env;

    public PipelineConfigLoader(Registry registry) { this(registry, System::getenv); }

    public PipelineConfigLoader(Registry registry, Function<String, String> env) {
        this.registry = registry;
        this.env = env;
    }

    public PipelineConfig load(Path file) {
        Path abs = file.toAbsolutePath().normalize();
        List<ConfigError> errors = new ArrayList<>();
        if (!Files.exists(abs)) throw new ConfigException(abs, List.of(new ConfigError("", 0, "pipeline file not found")));
        if (!Files.isRegularFile(abs)) throw new ConfigException(abs, List.of(new ConfigError("", 0, "not a regular file (expected a YAML pipeline file)")));
        Node root = SafeYaml.parse(abs, errors);
        if (!errors.isEmpty()) throw new ConfigException(abs, errors);
        if (!(root instanceof MappingNode top)) {
            throw new ConfigException(abs, List.of(new ConfigError("", SafeYaml.line(root),
                    "expected a map with keys model, output, datasets, metric, pipeline")));
        }
        Path base = abs.getParent();
        SafeYaml yaml = new SafeYaml(env);
        ParamValidator v = new ParamValidator(yaml, base, errors)
                .algorithms(name -> registry.algorithm(name).map(Algorithm::parameters), registry.algorithms().keySet());
        // a missing top-level key has no line of its own (line 1 is some other key's)
        Map<String, Object> values = v.validate(top, TOP, "", 0, Set.of("datasets", "metric", "pipeline"));
        Map<String, NodeTuple> entries = yaml.entries(top, "", new ArrayList<>());

        Map<String, PipelineConfig.DatasetConfig> datasets = new LinkedHashMap<>();
        NodeTuple ds = entries.get("datasets");
        if (ds != null) {
            if (ds.getValueNode() instanceof MappingNode m) {
                for (var e : yaml.entries(m, "datasets", errors).entrySet()) {
                    String path = "datasets." + e.getKey();
                    if (!ROLES.contains(e.getKey())) {
                        errors.add(new ConfigError(path, SafeYaml.line(e.getValue().getKeyNode()),
                                "unknown dataset role '" + e.getKey() + "'" + Names.hint(e.getKey(), ROLES, "roles")));
                        continue;
                    }
                    Typed<DatasetFactory> t = typed(e.getValue().getValueNode(), path, "dataset", yaml, errors, registry.datasets().keySet(),
                            registry::dataset, org.ptq4j.host.pipeline.DatasetSelection::parameters, v);
                    if (t != null) datasets.put(e.getKey(), new PipelineConfig.DatasetConfig(e.getKey(), t.plugin, t.params));
                }
            } else errors.add(new ConfigError("datasets", SafeYaml.line(ds.getValueNode()), "expected a map of role: {type: ..., ...}"));
        }

        PipelineConfig.MetricConfig metric = null;
        NodeTuple mt = entries.get("metric");
        if (mt != null) {
            Typed<MetricFactory> t = typed(mt.getValueNode(), "metric", "metric", yaml, errors, registry.metrics().keySet(),
                    registry::metric, MetricFactory::parameters, v);
            if (t != null) metric = new PipelineConfig.MetricConfig(t.plugin, t.params);
        }

        List<PipelineConfig.Step> steps = new ArrayList<>();
        NodeTuple pl = entries.get("pipeline");
        if (pl == null) {
            errors.add(new ConfigError("pipeline", 0, "missing required key: a list of steps such as '- algorithm: DefaultQuantization'"));
        } else if (!(pl.getValueNode() instanceof SequenceNode seq) || seq.getValue().isEmpty()) {
            errors.add(new ConfigError("pipeline", SafeYaml.line(pl.getValueNode()), "expected a non-empty list of steps such as '- algorithm: DefaultQuantization'"));
        } else {
            for (int i = 0; i < seq.getValue().size(); i++) {
                PipelineConfig.Step s = step(seq.getValue().get(i), "pipeline[" + i + "]", yaml, v, errors);
                if (s != null) steps.add(s);
            }
        }

        Path model = (Path) values.get("model"), output = (Path) values.get("output");
        if (model != null && !Files.isRegularFile(model)) errors.add(new ConfigError("model", line(entries, "model"), "not a file: " + model));
        // the output is compared with every input that validated, also when other keys have errors
        if (output != null)
            checkOutput(output, new PipelineConfig(abs, base, model, output, PipelineConfig.Engine.DEFAULT, datasets, metric, steps).inputs(),
                    line(entries, "output"), errors);
        if (!errors.isEmpty()) throw new ConfigException(abs, errors);
        Params eng = new Params(castMap(values.get("engine")));
        PipelineConfig.Cluster cluster = null;
        if (values.get("cluster") != null) {
            Params c = new Params(castMap(values.get("cluster")));
            cluster = new PipelineConfig.Cluster(c.getString("type"), c);
        }
        PipelineConfig.Report report = null;
        if (entries.containsKey("report")) {
            Params rp = new Params(castMap(values.get("report")));
            report = new PipelineConfig.Report(rp.has("html") ? base.resolve(rp.getString("html")).normalize() : null,
                    rp.has("json") ? base.resolve(rp.getString("json")).normalize() : null, rp.getInt("samples"), rp.getInt("worst_layers"));
        }
        return new PipelineConfig(abs, base, model, output, new PipelineConfig.Engine(eng.getInt("threads"), eng.getInt("batch_size")),
                datasets, metric, steps, cluster, report);
    }

    /**
     * The output must not be, or lie inside, anything the run reads ({@code inputs}: key -> path), by
     * real path and by file identity (symbolic links, hard links); an existing output must be a regular
     * file (the write replaces it); its folder must be creatable and writable.
     */
    public static void checkOutput(Path output, Map<String, Path> inputs, int line, List<ConfigError> errors) {
        Path data = output.resolveSibling(output.getFileName() + ".data");   // where large models keep their weights
        for (var in : inputs.entrySet()) {
            String clash = OutputGuard.clash(output, in.getValue());
            if (clash == null) clash = OutputGuard.clash(data, in.getValue()) != null ? "its external-data file " + data + " would replace" : null;
            if (clash != null) {
                errors.add(new ConfigError("output", line, (clash.equals("is") ? "must differ from the " + in.getKey() + " " + in.getValue()
                        : output + " " + clash + " the " + in.getKey() + " " + in.getValue()) + " (inputs are never overwritten)"));
                return;
            }
        }
        if (Files.isDirectory(output)) { errors.add(new ConfigError("output", line, output + " is a folder; expected a file name such as model_int8.onnx")); return; }
        if (Files.exists(output) && !Files.isRegularFile(output)) {
            errors.add(new ConfigError("output", line, output + " exists and is not a regular file (a device, FIFO or socket); refusing to replace it"));
            return;
        }
        Path d = output.getParent();
        while (d != null && !Files.exists(d)) d = d.getParent();
        if (d == null || !Files.isDirectory(d) || !Files.isWritable(d))
            errors.add(new ConfigError("output", line, "cannot write " + output + ": " + (d == null ? "no existing parent folder" : d + " is not a writable folder")));
    }

    private PipelineConfig.Step step(Node n, String path, SafeYaml yaml, ParamValidator v, List<ConfigError> errors) {
        if (!(n instanceof MappingNode m)) {
            errors.add(new ConfigError(path, SafeYaml.line(n), "expected a step: {algorithm: <name>, params: {...}}"));
            return null;
        }
        Map<String, NodeTuple> e = yaml.entries(m, path, errors);
        for (String k : e.keySet()) if (!k.equals("algorithm") && !k.equals("params"))
            errors.add(new ConfigError(path + "." + k, SafeYaml.line(e.get(k).getKeyNode()), "unknown key '" + k + "'" + Names.hint(k, List.of("algorithm", "params"), "valid keys")));
        NodeTuple a = e.get("algorithm");
        if (a == null || !(a.getValueNode() instanceof ScalarNode an)) {
            errors.add(new ConfigError(path + ".algorithm", SafeYaml.line(n), "missing required key: the algorithm name; installed: " + String.join(", ", registry.algorithms().keySet())));
            return null;
        }
        String name = an.getValue();
        Optional<Algorithm> alg = registry.algorithm(name);
        if (alg.isEmpty()) {
            errors.add(new ConfigError(path + ".algorithm", SafeYaml.line(an), "unknown algorithm '" + name + "'" + suggestion(name, registry.algorithms().keySet())));
            return null;
        }
        NodeTuple p = e.get("params");
        MappingNode pm = null;
        if (p != null && p.getValueNode() instanceof MappingNode mm) pm = mm;
        else if (p != null && !(p.getValueNode() instanceof ScalarNode s && s.getValue().isEmpty())) {
            errors.add(new ConfigError(path + ".params", SafeYaml.line(p.getValueNode()), "expected a map of parameter: value"));
            return null;
        }
        Map<String, Object> vals = v.validate(pm, alg.get().parameters(), path + ".params", SafeYaml.line(n), Set.of());
        return new PipelineConfig.Step(alg.get(), new Params(vals), SafeYaml.line(n));
    }

    private record Typed<T>(T plugin, Params params) {}

    private <T> Typed<T> typed(Node n, String path, String what, SafeYaml yaml, List<ConfigError> errors, Collection<String> installed,
                               Function<String, Optional<T>> lookup, Function<T, List<ParamSpec>> specs, ParamValidator v) {
        if (!(n instanceof MappingNode m)) {
            errors.add(new ConfigError(path, SafeYaml.line(n), "expected a map with a 'type' key and the " + what + "'s parameters"));
            return null;
        }
        NodeTuple t = yaml.entries(m, path, new ArrayList<>()).get("type");
        if (t == null || !(t.getValueNode() instanceof ScalarNode ts)) {
            errors.add(new ConfigError(path + ".type", SafeYaml.line(n), "missing required key: the " + what + " type; installed: " + String.join(", ", installed)));
            return null;
        }
        Optional<T> plugin = lookup.apply(ts.getValue());
        if (plugin.isEmpty()) {
            errors.add(new ConfigError(path + ".type", SafeYaml.line(ts), "unknown " + what + " type '" + ts.getValue() + "'" + suggestion(ts.getValue(), installed)));
            return null;
        }
        return new Typed<>(plugin.get(), new Params(v.validate(m, specs.apply(plugin.get()), path, SafeYaml.line(n), Set.of("type"))));
    }

    public static String suggestion(String given, Collection<String> installed) {
        String near = Names.nearest(given, installed).map(x -> "; did you mean '" + x + "'?").orElse("");
        return near + "; installed: " + (installed.isEmpty() ? "none" : String.join(", ", installed.stream().sorted().toList()));
    }

    private static int line(Map<String, NodeTuple> entries, String key) {
        NodeTuple t = entries.get(key);
        return t == null ? 0 : SafeYaml.line(t.getValueNode());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object o) { return o == null ? Map.of() : (Map<String, Object>) o; }
}
