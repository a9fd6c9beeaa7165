package org.ptq4j.host.config;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.plugins.TestExtensions;
import org.ptq4j.host.testing.Fuzz;
import org.ptq4j.host.testing.TestAssets;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The pipeline loader (safe YAML, validation) on mutated valid pipelines and on generated YAML
 * made of pipeline keys, YAML syntax (anchors, aliases, tags, flow collections, ${VAR}s) and
 * odd scalars: a config or a {@code PtqException} with a message, never another exception, at
 * most 64 MB allocated, within 20 s.
 */
class ConfigFuzzTest {
    static Path folder;
    static final Registry REGISTRY = TestExtensions.registry();
    static final String VALID = """
            model: model.onnx
            output: out/model_int8.onnx
            engine: {threads: 1, batch_size: 32}
            datasets:
              calibration: {type: test_npy, path: calib.npy, limit: 50}
            metric: {type: test_top1}
            pipeline:
              - algorithm: AddMetadata
                params: {key: k, repeat: 3, extra: {depth: 4}}
              - algorithm: RangeProbe
            """;

    @BeforeContainer
    static void setUp() throws IOException {
        folder = Files.createTempDirectory("config-fuzz");
        Files.copy(TestAssets.model("fmnist_mlp.onnx"), folder.resolve("model.onnx"));
        Files.copy(TestAssets.data("fmnist-calib-300.npy"), folder.resolve("calib.npy"));
        // the mutations start from a pipeline that loads
        Files.writeString(folder.resolve("pipeline.yaml"), VALID);
        new PipelineConfigLoader(REGISTRY).load(folder.resolve("pipeline.yaml"));
    }

    @AfterContainer
    static void tearDown() throws IOException {
        Fuzz.report(ConfigFuzzTest.class);
        try (var s = Files.walk(folder)) { for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p); }
    }

    static void load(String what, byte[] yaml) {
        Fuzz.check(what, yaml.length * 16L + (64 << 20), 20, () -> {
            Path f = folder.resolve("pipeline.yaml");
            try { Files.write(f, yaml); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
            new PipelineConfigLoader(REGISTRY, Map.of("N", "4", "EMPTY", "", "DEEP", "${N}")::get).load(f);
        });
    }

    @Property
    void mutatedPipelines(@ForAll("edits") List<int[]> edits) {
        byte[] y = Fuzz.mutate(VALID.getBytes(StandardCharsets.UTF_8), edits);
        load("pipeline with edits " + edits.stream().map(java.util.Arrays::toString).toList() + ":\n" + new String(y, StandardCharsets.UTF_8), y);
    }

    @Property
    void generatedYaml(@ForAll("documents") String yaml) {
        load("pipeline:\n" + yaml, yaml.getBytes(StandardCharsets.UTF_8));
    }

    @Provide
    Arbitrary<List<int[]>> edits() {
        return Arbitraries.integers().array(int[].class).ofSize(3).list().ofMinSize(1).ofMaxSize(3);
    }

    @Provide
    Arbitrary<String> documents() {
        Arbitrary<String> key = Arbitraries.of("model", "output", "engine", "threads", "batch_size", "datasets", "calibration", "validation",
                "type", "path", "labels", "limit", "metric", "pipeline", "algorithm", "params", "key", "repeat", "extra", "depth", "x",
                "<<", "? complex", "\"quoted\"", "!!str tagged");
        Arbitrary<String> scalar = Arbitraries.of("model.onnx", "calib.npy", "out/", "/", "/dev/null", "..", "test_npy", "test_top1",
                "AddMetadata", "RangeProbe", "0", "-1", "1e400", "99999999999999999999999", "0x7fffffff", ".nan", "-.inf", "~", "null", "true",
                "''", "\"\\u0000\"", "${N}", "${NOPE}", "${EMPTY:-x}", "${DEEP}", "${", "&a x", "*a", "*missing", "!!binary aGk=", "!!java.io.File x",
                "!custom x", "[1, 2", "{a: 1}", "[]", "{}", "- item", "|\n  block", ">-\n  folded", "%YAML 1.1", "---", "...", "#", "\t", "é", "\uFEFF");
        Arbitrary<String> line = net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0, 4), key, scalar, Arbitraries.of(": ", ":", " : ", "- ", ""))
                .as((indent, k, v, sep) -> "  ".repeat(indent) + (sep.equals("- ") ? "- " + k + ": " + v : k + sep + (sep.isEmpty() ? "" : v)));
        return line.list().ofMinSize(1).ofMaxSize(20).map(l -> String.join("\n", l) + "\n");
    }
}
