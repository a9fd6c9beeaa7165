package org.ptq4j.host.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.plugins.TestExtensions;
import org.ptq4j.host.testing.TestAssets;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Every kind of config error, asserted on the message a user sees. */
class PipelineConfigLoaderTest {
    @TempDir Path dir;
    Map<String, String> env = Map.of("CALIB", "calib.npy", "THREADS", "2");
    PipelineConfigLoader loader = new PipelineConfigLoader(TestExtensions.registry(), env::get);

    @BeforeEach
    void assets() throws IOException {
        Files.copy(TestAssets.model("fmnist_cnn.onnx"), dir.resolve("model.onnx"));
        Files.copy(TestAssets.data("fmnist-calib-300.npy"), dir.resolve("calib.npy"));
    }

    private static final String VALID = """
            model: model.onnx
            output: out/model_int8.onnx
            engine: {threads: "${THREADS}"}
            datasets:
              calibration: {type: test_npy, path: "${CALIB}", limit: 50}
            metric: {type: test_top1}
            pipeline:
              - algorithm: AddMetadata
                params: {key: k, repeat: 3, mode: slow, ratio: 1, names: [a, b], extra: {depth: 4}}
              - algorithm: InsertIdentity
            """;

    private PipelineConfig load(String yaml) throws IOException {
        Path f = dir.resolve("pipeline.yaml");
        Files.writeString(f, yaml);
        return loader.load(f);
    }

    /** Loads, expects failure, returns the error lines as the user sees them. */
    private List<String> errors(String yaml) throws IOException {
        ConfigException e = assertThrows(ConfigException.class, () -> load(yaml));
        assertTrue(e.getMessage().startsWith(dir.resolve("pipeline.yaml").toString()), e.getMessage());
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    private String only(String yaml) throws IOException {
        List<String> e = errors(yaml);
        assertEquals(1, e.size(), e.toString());
        return e.get(0);
    }

    @Test
    void validPipelineResolvesPathsExpandsEnvAndFillsDefaults() throws IOException {
        PipelineConfig c = load(VALID);
        assertEquals(dir.resolve("model.onnx"), c.model());
        assertEquals(dir.resolve("out/model_int8.onnx"), c.output());
        assertEquals(new PipelineConfig.Engine(2, 32), c.engine());
        var calib = c.datasets().get("calibration");
        assertEquals("test_npy", calib.factory().type());
        assertEquals(dir.resolve("calib.npy"), calib.params().path("path").orElseThrow());
        assertEquals(50, calib.params().getInt("limit"));
        assertEquals("test_top1", c.metric().factory().type());
        assertEquals(2, c.steps().size());
        var p = c.steps().get(0).params();
        assertEquals(3, p.getInt("repeat"));
        assertEquals("slow", p.getString("mode"));
        assertEquals(1.0, p.getDouble("ratio"));
        assertEquals("yes", p.getString("value"));               // default
        assertTrue(p.getBool("enabled"));                          // default
        assertEquals(List.of("a", "b"), p.getStrings("names"));
        assertEquals(4, p.map("extra").getInt("depth"));
        assertEquals(8, c.steps().get(0).line());
    }

    @Test
    void unknownTopLevelKeySuggestsNearest() throws IOException {
        // a missing top-level key has no line: line 1 is another key's
        assertEquals(List.of("ouptut (line 2): unknown key 'ouptut'; did you mean 'output'?",
                        "output: missing required key: a file path (where the quantized model is written)"),
                errors(VALID.replace("output:", "ouptut:")));
    }

    @Test
    void unknownParamKeySuggestsNearestWithPathAndLine() throws IOException {
        assertEquals("pipeline[0].params.repaet (line 9): unknown key 'repaet'; did you mean 'repeat'?",
                only(VALID.replace("repeat: 3", "repaet: 3")));
    }

    @Test
    void unknownKeyFarFromAnyListsValidKeys() throws IOException {
        String e = only(VALID.replace("limit: 50", "zzzzzzzz: 50"));
        assertEquals("datasets.calibration.zzzzzzzz (line 5): unknown key 'zzzzzzzz'; valid keys: labels, limit, path, seed, shuffle, subset_size, type", e);
    }

    @Test
    void wrongTypes() throws IOException {
        assertEquals("pipeline[0].params.repeat (line 9): expected an integer, got the string 'many'",
                only(VALID.replace("repeat: 3", "repeat: many")));
        assertEquals("pipeline[0].params.ratio (line 9): expected a number, got boolean true",
                only(VALID.replace("ratio: 1", "ratio: true")));
        assertEquals("pipeline[0].params.extra (line 9): expected a map of key: value, got '7'",
                only(VALID.replace("extra: {depth: 4}", "extra: 7")));
        assertEquals("engine.threads (line 3): expected an integer, got number 1.5",
                only(VALID.replace("\"${THREADS}\"", "1.5")));
    }

    @Test
    void outOfRange() throws IOException {
        assertEquals("pipeline[0].params.ratio (line 9): 1.5 is out of range [0, 1]", only(VALID.replace("ratio: 1", "ratio: 1.5")));
        assertEquals("pipeline[0].params.extra.depth (line 9): 9 is out of range [0, 5]", only(VALID.replace("depth: 4", "depth: 9")));
        assertEquals("datasets.calibration.limit (line 5): 0 is out of range [1, inf]", only(VALID.replace("limit: 50", "limit: 0")));
    }

    @Test
    void enumChoiceWithSuggestion() throws IOException {
        assertEquals("pipeline[0].params.mode (line 9): 'sloww' is not one of fast, slow; did you mean 'slow'?",
                only(VALID.replace("mode: slow", "mode: sloww")));
    }

    @Test
    void missingRequired() throws IOException {
        assertEquals("pipeline[0].params.key (line 8): missing required key: a string (metadata key)",
                only(VALID.replace("key: k, ", "")));
        assertEquals("model: missing required key: a file path (the FP32 ONNX model to quantize)",
                only(VALID.replace("model: model.onnx\n", "")));
    }

    @Test
    void unknownPluginTypesListInstalledOnes() throws IOException {
        assertEquals("pipeline[0].algorithm (line 8): unknown algorithm 'AddMetdata'; did you mean 'AddMetadata'?; installed: AddMetadata, InsertIdentity, RangeProbe",
                only(VALID.replace("algorithm: AddMetadata", "algorithm: AddMetdata")));
        assertEquals("datasets.calibration.type (line 5): unknown dataset type 'imagenet'; installed: test_npy",
                only(VALID.replace("type: test_npy", "type: imagenet")));
        assertEquals("metric.type (line 6): unknown metric type 'acc'; installed: test_top1",
                only(VALID.replace("type: test_top1", "type: acc")));
        assertEquals("datasets.calibratoin (line 5): unknown dataset role 'calibratoin'; did you mean 'calibration'?",
                only(VALID.replace("calibration:", "calibratoin:")));
    }

    @Test
    void missingFilesNameTheResolvedPath() throws IOException {
        assertEquals("model (line 1): file not found: " + dir.resolve("nope.onnx") + " ('nope.onnx' relative to " + dir + ")",
                only(VALID.replace("model: model.onnx", "model: nope.onnx")));
        assertEquals("datasets.calibration.path (line 5): file not found: " + dir.resolve("missing.npy") + " ('missing.npy' relative to " + dir + ")",
                only(VALID.replace("\"${CALIB}\"", "missing.npy")));
    }

    @Test
    void javaClassTagsAndCustomTagsAreRejected() throws IOException {
        assertEquals("model (line 1): YAML tag 'tag:yaml.org,2002:java.io.File' is not allowed (only plain maps, lists, strings, numbers and booleans; tags that name Java classes are rejected)",
                only(VALID.replace("model: model.onnx", "model: !!java.io.File model.onnx")));
        assertTrue(only("!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://x/\"]]]]\n")
                .startsWith("<root> (line 1): YAML tag 'tag:yaml.org,2002:javax.script.ScriptEngineManager' is not allowed"));
        assertTrue(only(VALID.replace("{type: test_top1}", "!metric {type: test_top1}")).startsWith("metric (line 6): YAML tag '!metric' is not allowed"));
    }

    @Test
    void unsetEnvironmentVariable() throws IOException {
        assertEquals("datasets.calibration.path (line 5): environment variable 'NOPE' is not set (use ${NOPE:-default} for a default)",
                only(VALID.replace("${CALIB}", "${NOPE}")));
        assertEquals(dir.resolve("calib.npy"), load(VALID.replace("${CALIB}", "${NOPE:-calib.npy}")).datasets().get("calibration").params().path("path").get());
    }

    @Test
    void allErrorsAreReportedTogetherInLineOrder() throws IOException {
        List<String> e = errors(VALID.replace("output:", "ouptut:").replace("limit: 50", "limit: -1").replace("mode: slow", "mode: x"));
        assertEquals(4, e.size(), e.toString());
        assertTrue(e.get(0).startsWith("ouptut (line 2): unknown key"), e.toString());
        assertTrue(e.get(1).startsWith("datasets.calibration.limit (line 5): -1 is out of range"), e.toString());
        assertTrue(e.get(2).startsWith("pipeline[0].params.mode (line 9): 'x' is not one of fast, slow"), e.toString());
        assertTrue(e.get(3).startsWith("output: missing required"), e.toString());   // no line of its own: last
    }

    @Test
    void yamlSyntaxErrorHasLine() throws IOException {
        assertTrue(only(VALID.replace("metric: {type: test_top1}", "metric: {type: test_top1")).matches("<root> \\(line \\d+\\): invalid YAML: .*"));
    }

    @Test
    void duplicateKeyAndBadShapes() throws IOException {
        assertEquals("model (line 2): duplicate key", only("model: model.onnx\n" + VALID));
        assertEquals("pipeline (line 7): expected a non-empty list of steps such as '- algorithm: DefaultQuantization'",
                only(VALID.substring(0, VALID.indexOf("pipeline:")) + "pipeline: []\n"));
        assertEquals("<root> (line 1): expected a map with keys model, output, datasets, metric, pipeline", only("- just\n- a list\n"));
    }

    @Test
    void outputMustBeWritableAndDifferFromInput() throws IOException {
        assertEquals("output (line 2): must differ from the model " + dir.resolve("model.onnx") + " (inputs are never overwritten)",
                only(VALID.replace("out/model_int8.onnx", "model.onnx")));
        Files.writeString(dir.resolve("afile"), "x");
        assertEquals("output (line 2): cannot write " + dir.resolve("afile/m.onnx") + ": " + dir.resolve("afile") + " is not a writable folder",
                only(VALID.replace("out/model_int8.onnx", "afile/m.onnx")));
    }
}
