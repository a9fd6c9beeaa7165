package org.ptq4j.host.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.plugins.TestExtensions;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The CLI in-process: exit codes, messages, JSON, on real models with real ONNX Runtime. */
class MainTest {
    @TempDir Path dir;
    String stdout, stderr;
    List<Path> pluginFolders;
    List<PluginLoader.Failure> loadFailures = List.of();

    /** The test extensions, plus a 'numpy' dataset type (the real one is a plugin) and an algorithm with a bug. */
    static Registry registry() {
        var npy = new TestExtensions.NpyDatasetFactory();
        DatasetFactory numpy = new DatasetFactory() {
            @Override public String type() { return "numpy"; }
            @Override public String description() { return "test stand-in"; }
            @Override public List<ParamSpec> parameters() { return npy.parameters(); }
            @Override public Dataset open(Params p, DatasetContext c) { return npy.open(p, c); }
        };
        Algorithm buggy = new Algorithm() {
            @Override public String name() { return "Buggy"; }
            @Override public String description() { return "has a bug"; }
            @Override public List<ParamSpec> parameters() { return List.of(); }
            @Override public Model apply(Model m, Params p, Statistics s, PipelineContext c) { throw new IllegalStateException("bug"); }
        };
        return TestExtensions.registry().add(numpy, "test").add(buggy, "test");
    }

    int ptq(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8),
                k -> k.equals("PTQ_PLUGINS") ? "/from/env" : null,
                dirs -> { pluginFolders = dirs; return new PluginLoader.Result(registry(), List.of(), loadFailures, null); });
        stdout = o.toString(StandardCharsets.UTF_8);
        stderr = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @BeforeEach
    void assets() throws IOException {
        TestAssets.copyFmnistCnn(dir);
        Files.writeString(dir.resolve("pipeline.yaml"), """
                model: model.onnx
                output: out/result.onnx
                datasets:
                  calibration: {type: test_npy, path: calib.npy, limit: 30}
                  validation: {type: test_npy, path: test.npy, labels: labels.npy, limit: 200}
                metric: {type: test_top1}
                pipeline:
                  - algorithm: RangeProbe
                  - algorithm: InsertIdentity
                """);
    }

    @Test
    void versionAndHelpOnEveryCommand() {
        assertEquals(0, ptq("--version"));
        assertTrue(stdout.startsWith("ptq "), stdout);
        assertTrue(stdout.contains("ONNX Runtime"), stdout);
        for (String c : List.of("quantize", "validate", "evaluate", "benchmark", "plugins")) {
            assertEquals(0, ptq(c, "--help"), c);
            assertTrue(stdout.startsWith("Usage: ptq " + c), stdout);
        }
        assertEquals(0, ptq("--help"));
        assertTrue(stdout.contains("quantize") && stdout.contains("benchmark"), stdout);
    }

    @Test
    void pluginFoldersFromEnvironmentAndOptionBeforeOrAfterTheCommand() {
        assertEquals(0, ptq("--plugins-dir", "/before", "plugins"));
        assertEquals(List.of(Path.of("/from/env"), Path.of("/before")), pluginFolders.subList(pluginFolders.size() - 2, pluginFolders.size()));
        assertEquals(0, ptq("plugins", "--plugins-dir", "/after", "--plugins-dir", "/after2"));
        assertEquals(List.of(Path.of("/from/env"), Path.of("/after"), Path.of("/after2")), pluginFolders.subList(pluginFolders.size() - 3, pluginFolders.size()));
    }

    @Test
    void quantizeWithPipelineReportsProgressAndSummary() {
        assertEquals(0, ptq("quantize", "-c", dir.resolve("pipeline.yaml").toString()), stderr);
        assertTrue(Files.isRegularFile(dir.resolve("out/result.onnx")));
        assertTrue(stdout.contains("calibration samples: 30"), stdout);
        assertTrue(stdout.contains("accuracy:") && stdout.contains("fp32:") && stdout.contains("quantized:"), stdout);
        assertTrue(stdout.contains("wrote " + dir.resolve("out/result.onnx")), stdout);
        assertTrue(stderr.contains("100%"), "progress on stderr: " + stderr);
    }

    @Test
    void validateChecksWithoutRunning() throws IOException {
        assertEquals(0, ptq("validate", "-c", dir.resolve("pipeline.yaml").toString()), stderr);
        assertTrue(stdout.startsWith("OK: " + dir.resolve("pipeline.yaml") + ": 2 steps (RangeProbe -> InsertIdentity), calibration: 30 samples, validation: 200 samples"), stdout);
        assertFalse(Files.exists(dir.resolve("out/result.onnx")));
        Files.writeString(dir.resolve("bad.yaml"), Files.readString(dir.resolve("pipeline.yaml")).replace("RangeProbe", "RangeProb"));
        assertEquals(2, ptq("validate", "-c", dir.resolve("bad.yaml").toString()));
        assertEquals("error: " + dir.resolve("bad.yaml") + ": 1 error\n  pipeline[0].algorithm (line 8): unknown algorithm 'RangeProb'; did you mean 'RangeProbe'?; "
                + "installed: AddMetadata, Buggy, InsertIdentity, RangeProbe\n", stderr);
    }

    @Test
    void validateFailsWhenAPluginDidNotLoad() {
        loadFailures = List.of(new PluginLoader.Failure("vendor-clip", Path.of("/p/vendor-clip.jar"), "requires plugin 'quantization' >=2.0.0, but version 0.1.0 is installed"));
        assertEquals(2, ptq("validate", "-c", dir.resolve("pipeline.yaml").toString()));
        assertTrue(stderr.contains("error: 1 plugin did not load (fix or remove them):\n  plugin 'vendor-clip' (/p/vendor-clip.jar) failed to load: requires plugin 'quantization' >=2.0.0"), stderr);
        assertTrue(stderr.startsWith("warning: plugin 'vendor-clip'"), stderr);
    }

    @Test
    void exitCodes() throws IOException {
        assertEquals(2, ptq("quantize", "--no-such-option"));
        assertTrue(stderr.contains("Unknown option: '--no-such-option'"), stderr);
        assertEquals(2, ptq("quantize", "-c", dir.resolve("missing.yaml").toString()));
        assertEquals("error: " + dir.resolve("missing.yaml") + ": 1 error\n  <root>: pipeline file not found\n", stderr);
        Files.writeString(dir.resolve("buggy.yaml"), Files.readString(dir.resolve("pipeline.yaml")).replace("InsertIdentity", "Buggy"));
        assertEquals(1, ptq("quantize", "-c", dir.resolve("buggy.yaml").toString()));
        assertTrue(stderr.contains("internal error: java.lang.IllegalStateException: bug"), stderr);
        assertFalse(Files.exists(dir.resolve("out/result.onnx")));
    }

    @Test
    void simplifiedQuantizeNeedsDefaultQuantization() {
        assertEquals(2, ptq("quantize", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("calib.npy").toString(),
                "--output", dir.resolve("q.onnx").toString()));
        assertTrue(stderr.startsWith("error: algorithm 'DefaultQuantization' is not installed (installed: AddMetadata, Buggy, InsertIdentity, RangeProbe)"), stderr);
        assertEquals(2, ptq("quantize", "--model", dir.resolve("nope.onnx").toString(), "--data", dir.resolve("calib.npy").toString(),
                "--output", dir.resolve("q.onnx").toString()));
        assertEquals("error: parameters: 1 error\n  --model: file not found: " + dir.resolve("nope.onnx") + "\n", stderr);
    }

    @Test
    void pluginsJsonListsParametersWithDefaults() throws IOException {
        assertEquals(0, ptq("plugins", "--json"));
        JsonNode doc = new ObjectMapper().readTree(stdout);
        JsonNode alg = null;
        for (JsonNode a : doc.get("algorithms")) if (a.get("name").asText().equals("AddMetadata")) alg = a;
        assertNotNull(alg, stdout);
        JsonNode repeat = null;
        for (JsonNode p : alg.get("parameters")) if (p.get("name").asText().equals("repeat")) repeat = p;
        assertEquals("INT", repeat.get("type").asText());
        assertEquals(1, repeat.get("default").asInt());
        assertEquals(10.0, repeat.get("max").asDouble());
        assertEquals("test_npy", doc.get("datasets").get(1).get("type").asText());
        assertEquals(0, ptq("plugins"));
        assertTrue(stdout.contains("AddMetadata  (test) - adds a metadata_props entry"), stdout);
        assertTrue(stdout.contains("repeat: int [1, 10] = 1  -- how often"), stdout);
    }

    @Test
    void evaluateSeveralModelsOnTheSameData() throws IOException {
        assertEquals(0, ptq("quantize", "-c", dir.resolve("pipeline.yaml").toString()));
        assertEquals(0, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--model", dir.resolve("out/result.onnx").toString(),
                "--data", dir.resolve("test.npy").toString(), "--labels", dir.resolve("labels.npy").toString(), "--metric", "test_top1", "--limit", "300", "--json"), stderr);
        JsonNode rows = new ObjectMapper().readTree(stdout).get("results");
        assertEquals(2, rows.size());
        double a = rows.get(0).get("test_top1").asDouble();
        assertTrue(a > 0.8 && a < 0.97, stdout);
        assertEquals(a, rows.get(1).get("test_top1").asDouble(), 1e-12);
        assertEquals(300, rows.get(0).get("samples").asInt());
        assertEquals(0, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(),
                "--labels", dir.resolve("labels.npy").toString(), "--metric", "test_top1", "--data-param", "limit=50", "--json"), stderr);
        assertEquals(50, new ObjectMapper().readTree(stdout).get("results").get(0).get("samples").asInt());
        assertEquals(2, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(),
                "--labels", dir.resolve("labels.npy").toString(), "--metric", "test_top1", "--data-param", "limit=lots"));
        assertEquals("error: parameters: 1 error\n  --data-param.limit: expected an integer, got the string 'lots'\n", stderr);
        assertEquals(0, ptq("evaluate", "-c", dir.resolve("pipeline.yaml").toString()));
        assertTrue(stdout.contains("model.onnx") && stdout.contains("result.onnx") && stdout.contains("test_top1"), stdout);
        assertEquals(2, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(), "--metric", "test_top1"));
        assertEquals("error: metric 'test_top1' needs labels, but the data has none (add --labels)\n", stderr);
    }

    @Test
    void evaluateWithAnyInstalledDatasetType() throws IOException {
        assertEquals(0, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(), "--data-type", "test_npy",
                "--labels", dir.resolve("labels.npy").toString(), "--metric", "test_top1", "--data-param", "limit=120", "--json"), stderr);
        JsonNode row = new ObjectMapper().readTree(stdout).get("results").get(0);
        assertEquals(120, row.get("samples").asInt());
        assertTrue(row.get("test_top1").asDouble() > 0.8, stdout);
        assertEquals(2, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(), "--data-type", "test_nyp", "--metric", "test_top1"));
        assertTrue(stderr.startsWith("error: --data-type: unknown dataset type 'test_nyp'; did you mean 'test_npy'?; installed: "), stderr);
        assertEquals(2, ptq("evaluate", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("nope.npy").toString(), "--data-type", "test_npy", "--metric", "test_top1"));
        assertTrue(stderr.contains("--data: file not found: " + dir.resolve("nope.npy")), stderr);
    }

    @Test
    void benchmarkInterleavesModels() throws IOException {
        assertEquals(0, ptq("benchmark", "--model", dir.resolve("model.onnx").toString(), "--model", dir.resolve("model.onnx").toString(),
                "--batch", "4", "--warmup", "2", "--runs", "5", "--json"), stderr);
        JsonNode doc = new ObjectMapper().readTree(stdout);
        assertEquals(4, doc.get("batch").asInt());
        assertEquals(2, doc.get("results").size());
        assertEquals(1.0, doc.get("results").get(0).get("speedup").asDouble(), 1e-12);
        assertTrue(doc.get("results").get(1).get("median_ms").asDouble() > 0);
        assertEquals(0, ptq("benchmark", "--model", dir.resolve("model.onnx").toString(), "--data", dir.resolve("test.npy").toString(), "--runs", "3"));
        assertTrue(stdout.contains("median_ms") && stdout.contains("speedup"), stdout);
        // a --dim name no input has would silently leave that dimension at 1: an error naming the real ones
        assertEquals(2, ptq("benchmark", "--model", dir.resolve("model.onnx").toString(), "--dim", "sequence=128", "--runs", "3"));
        assertTrue(stderr.startsWith("error: --dim sequence: no input of " + dir.resolve("model.onnx") + " has a dimension named 'sequence'; its symbolic dimensions: "), stderr);
    }
}
