package org.ptq4j.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.spi.model.Model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * End to end: the packaged distribution's {@code bin/ptq} run as a process, on the shipped
 * example, with the bundled plugins and with the third-party example plugin dropped into a folder.
 */
class DistributionTest {
    static Path home, example;
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path tmp;

    record Run(int code, String out, String err) {
        @Override public String toString() { return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err; }
    }

    @BeforeAll
    static void locate() {
        home = Path.of(System.getProperty("ptq.dist.dir"));
        example = Path.of(System.getProperty("ptq.example.plugin"));
        assertTrue(Files.isDirectory(home), "distribution not built: " + home);
    }

    static Run ptq(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/ptq").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("PTQ_PLUGINS");
        pb.environment().put("PTQ_JAVA_OPTS", "-Xmx1g");
        pb.environment().putAll(env);
        Path out = Files.createTempFile("ptq-out", ".txt"), err = Files.createTempFile("ptq-err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) { p.destroyForcibly(); fail("ptq " + args[0] + " timed out"); }
        Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    static Run ptq(String... args) throws IOException, InterruptedException { return ptq(Map.of(), args); }

    /** A writable copy of the shipped example. */
    Path exampleCopy() throws IOException { return exampleCopy(tmp); }

    /** A writable copy of the shipped example, in {@code dir}/fmnist. */
    static Path exampleCopy(Path dir) throws IOException {
        Path dst = dir.resolve("fmnist");
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(home.resolve("examples/fmnist"))) {
            for (Path f : s.filter(Files::isRegularFile).toList()) Files.copy(f, dst.resolve(f.getFileName()));
        }
        return dst;
    }

    @Test
    void layoutIsSelfContained() throws IOException {
        assertTrue(Files.isExecutable(home.resolve("bin/ptq")));
        List<String> lib, plugins;
        try (Stream<Path> s = Files.list(home.resolve("lib"))) { lib = s.map(p -> p.getFileName().toString()).sorted().toList(); }
        try (Stream<Path> s = Files.list(home.resolve("plugins"))) { plugins = s.map(p -> p.getFileName().toString()).sorted().toList(); }
        for (String want : List.of("ptq4j-host-", "ptq4j-spi-", "onnxruntime-", "protobuf-java-", "pf4j-", "picocli-", "snakeyaml-"))
            assertTrue(lib.stream().anyMatch(n -> n.startsWith(want)), want + " missing from lib/: " + lib);
        assertTrue(lib.stream().noneMatch(n -> n.startsWith("ptq4j-plugin-")), "plugins must not be on the host class path: " + lib);
        for (String p : List.of("quantization", "bias-correction", "accuracy-aware", "data-numpy", "data-image", "data-text", "metrics", "transformer"))
            assertTrue(plugins.stream().anyMatch(n -> n.startsWith("ptq4j-plugin-" + p + "-")), p + " missing from plugins/: " + plugins);
        assertEquals(8, plugins.size(), plugins.toString());
        assertTrue(Files.isRegularFile(home.resolve("examples/fmnist/pipeline.yaml")));
        assertTrue(Files.isRegularFile(home.resolveSibling(home.getFileName() + ".tar.gz")));
    }

    @Test
    void versionHelpAndBundledPlugins() throws Exception {
        Run v = ptq("--version");
        assertEquals(0, v.code(), v.toString());
        assertTrue(v.out().startsWith("ptq 0."), v.out());
        Run h = ptq("quantize", "--help");
        assertEquals(0, h.code(), h.toString());
        assertTrue(h.out().contains("--subset-size"), h.out());
        Run p = ptq("plugins", "--json");
        assertEquals(0, p.code(), p.toString());
        assertEquals("", p.err(), "no plugin failed to load");
        JsonNode doc = JSON.readTree(p.out());
        assertEquals(8, doc.get("plugins").size(), p.out());
        List<String> algs = new ArrayList<>(), ds = new ArrayList<>(), ms = new ArrayList<>();
        doc.get("algorithms").forEach(a -> algs.add(a.get("name").asText()));
        doc.get("datasets").forEach(a -> ds.add(a.get("type").asText()));
        doc.get("metrics").forEach(a -> ms.add(a.get("type").asText()));
        assertTrue(algs.containsAll(List.of("DefaultQuantization", "MinMaxQuantization")), algs.toString());
        assertTrue(ds.containsAll(List.of("numpy", "image_folder", "text")), ds.toString());
        assertTrue(ms.containsAll(List.of("accuracy", "cosine")), ms.toString());
    }

    @Test
    void quantizesTheShippedExampleWithinOnePercentOfFp32() throws Exception {
        Path ex = exampleCopy();
        Run r = ptq("quantize", "-c", ex.resolve("pipeline.yaml").toString(), "--json");
        assertEquals(0, r.code(), r.toString());
        JsonNode acc = JSON.readTree(r.out()).get("summary").get("metric");
        double fp32 = acc.get("fp32").asDouble(), int8 = acc.get("int8").asDouble();
        assertTrue(fp32 > 0.88 && fp32 < 0.93, "FP32 accuracy on the 1k test images: " + fp32);
        assertEquals(fp32, int8, 0.01, "INT8 accuracy");
        Path out = ex.resolve("out/fmnist_cnn_int8.onnx");
        assertTrue(Files.size(out) < Files.size(ex.resolve("fmnist_cnn.onnx")) / 2, "INT8 model is smaller");
        assertTrue(r.err().contains("100%"), "progress is shown: " + r.err());

        Run e = ptq("evaluate", "--model", ex.resolve("fmnist_cnn.onnx").toString(), "--model", out.toString(),
                "--data", ex.resolve("test-1k.npy").toString(), "--labels", ex.resolve("test-1k-labels.npy").toString(), "--metric", "accuracy", "--json");
        assertEquals(0, e.code(), e.toString());
        JsonNode rows = JSON.readTree(e.out()).get("results");
        assertEquals(fp32, rows.get(0).get("accuracy").asDouble(), 1e-9);
        assertEquals(int8, rows.get(1).get("accuracy").asDouble(), 1e-9);

        Run b = ptq("benchmark", "--model", ex.resolve("fmnist_cnn.onnx").toString(), "--model", out.toString(), "--batch", "8", "--warmup", "3", "--runs", "10", "--json");
        assertEquals(0, b.code(), b.toString());
        assertEquals(2, JSON.readTree(b.out()).get("results").size());
    }

    /** Issue 4's end-to-end case: calibrate from a folder of PNGs, validate on the .npy test split, FP32 vs INT8 printed. */
    @Test
    void imageFolderCalibrationAndNpyValidationFromYaml() throws Exception {
        Path yaml = tmp.resolve("png-pipeline.yaml");
        Files.writeString(yaml, """
                model: %s
                output: out/cnn_int8.onnx
                datasets:
                  calibration: {type: image_folder, path: %s, color: GRAY, scale: 0.00392156862745098, mean: [0.2860], std: [0.3530]}
                  validation: {type: numpy, path: %s, labels: %s, scale: 0.00392156862745098, mean: 0.2860, std: 0.3530, subset_size: 2000}
                metric: {type: accuracy}
                pipeline:
                  - algorithm: DefaultQuantization
                """.formatted(org.ptq4j.host.testing.TestAssets.model("fmnist_cnn.onnx"), org.ptq4j.host.testing.TestAssets.data("fmnist-png"),
                org.ptq4j.host.testing.TestAssets.data("fmnist-test-10k-u8.npy"), org.ptq4j.host.testing.TestAssets.data("fmnist-test-10k-labels.npy")));
        Run r = ptq("quantize", "-c", yaml.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("calibration samples: 200"), r.out());
        java.util.regex.Matcher fp = java.util.regex.Pattern.compile("fp32: ([0-9.]+)").matcher(r.out());
        java.util.regex.Matcher q = java.util.regex.Pattern.compile("quantized: ([0-9.]+)").matcher(r.out());
        assertTrue(fp.find() && q.find(), "FP32 and INT8 accuracy are printed:\n" + r.out());
        double fp32 = Double.parseDouble(fp.group(1)), int8 = Double.parseDouble(q.group(1));
        assertTrue(fp32 > 0.89 && fp32 < 0.92, "FP32 accuracy on the first 2000 test images: " + fp32);
        assertEquals(fp32, int8, 0.005, "INT8 calibrated on 200 PNGs");
    }

    /**
     * The text plugin inside the distribution (its tokenizer's native library lives in the plugin jar, seen only by
     * the plugin's class loader): a MiniLM pipeline with a tokenized calibration set validates.
     */
    @Test
    void textPluginTokenizesInsideTheDistribution() throws Exception {
        Path minilm = Path.of(System.getProperty("ptq.minilm.dir"));
        Path yaml = tmp.resolve("text-pipeline.yaml");
        Files.writeString(yaml, """
                model: %s
                output: out/minilm-int8.onnx
                datasets:
                  calibration: {type: text, path: %s, tokenizer: %s, max_length: 64, limit: 20}
                metric: {type: embedding_cosine}
                pipeline:
                  - algorithm: DefaultQuantization
                    params: {model_type: transformer}
                """.formatted(minilm.resolve("all-minilm-l6-v2.onnx"), org.ptq4j.host.testing.TestAssets.data("sentences-2k.txt"),
                minilm.resolve("all-minilm-l6-v2-tokenizer.json")));
        Run r = ptq("validate", "-c", yaml.toString());
        assertEquals(0, r.code(), r.toString());
    }

    @Test
    void simplifiedModeNeedsNoYaml() throws Exception {
        Path ex = exampleCopy();
        Run r = ptq("quantize", "--model", ex.resolve("fmnist_cnn.onnx").toString(), "--data", ex.resolve("calib-300.npy").toString(),
                "--output", tmp.resolve("q/simple.onnx").toString(), "--preset", "mixed", "--subset-size", "100", "--ignore-types", "Gemm");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("calibration samples: 100"), r.out());
        Model q = OnnxIO.read(tmp.resolve("q/simple.onnx"));
        assertTrue(q.graph().nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")), "quantized");
    }

    @Test
    void badInputExitsWith2AndSaysWhere() throws Exception {
        Path ex = exampleCopy();
        Files.writeString(ex.resolve("bad.yaml"), Files.readString(ex.resolve("pipeline.yaml"))
                .replace("stat_subset_size: 300", "stat_subset_sise: 300").replace("type: accuracy", "type: acuracy"));
        Run r = ptq("validate", "-c", ex.resolve("bad.yaml").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("metric.type (line 9): unknown metric type 'acuracy'; did you mean 'accuracy'?"), r.err());
        assertTrue(r.err().contains("pipeline[0].params.stat_subset_sise (line 12): unknown key 'stat_subset_sise'; did you mean 'stat_subset_size'?"), r.err());
        Run ok = ptq("validate", "-c", ex.resolve("pipeline.yaml").toString());
        assertEquals(0, ok.code(), ok.toString());
        assertEquals(2, ptq("quantize").code());
        assertEquals(2, ptq("frobnicate").code());
    }

    @Test
    void thirdPartyPluginJarIsDiscoveredAndRunsInAPipeline() throws Exception {
        assertTrue(Files.isRegularFile(example), "example plugin not built: " + example);
        Path plugins = Files.createDirectories(tmp.resolve("vendor-plugins"));
        Files.copy(example, plugins.resolve(example.getFileName()));
        Files.write(plugins.resolve("broken.jar"), "not a jar".getBytes(StandardCharsets.UTF_8));
        Path ex = exampleCopy();
        Files.writeString(ex.resolve("stamped.yaml"), Files.readString(ex.resolve("pipeline.yaml"))
                .replace("out/fmnist_cnn_int8.onnx", "out/stamped.onnx")
                + "  - algorithm: StampMetadata\n    params: {prefix: \"acme.\", entries: {team: vision, ticket: ML-42}}\n");

        Run r = ptq("--plugins-dir", plugins.toString(), "quantize", "-c", ex.resolve("stamped.yaml").toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("warning: plugin 'broken.jar' (" + plugins.resolve("broken.jar") + ") failed to load"), r.err());
        Model m = OnnxIO.read(ex.resolve("out/stamped.onnx"));
        assertEquals("vision", m.metadata().get("acme.team"));
        assertEquals("ML-42", m.metadata().get("acme.ticket"));
        assertTrue(m.metadata().get("acme.ops").contains("QuantizeLinear="), m.metadata().toString());

        Map<String, String> env = new HashMap<>();
        env.put("PTQ_PLUGINS", plugins.toString());
        Run p = ptq(env, "plugins");
        assertEquals(0, p.code(), p.toString());
        assertTrue(p.out().contains("example-stamp 1.0.0"), p.out());
        assertTrue(p.out().contains("StampMetadata  (example-stamp)"), p.out());
        assertTrue(p.out().contains("FAILED broken.jar"), p.out());
    }
}
