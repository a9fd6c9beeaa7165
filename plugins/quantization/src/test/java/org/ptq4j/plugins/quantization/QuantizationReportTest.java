package org.ptq4j.plugins.quantization;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.cli.Main;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.testing.SchemaCheck;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.Tensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The quantization report of a real run (fmnist_cnn, DefaultQuantization, 1k validation images): the JSON follows
 * the schema, the HTML renders in headless Chromium with every section and chart, and the per-layer SQNR matches
 * an independent computation on tensors taken from ONNX Runtime directly.
 */
class QuantizationReportTest {
    @TempDir static Path dir;
    static Path html, json, output;
    static String stdout, stderr;
    static int code;

    @BeforeAll
    static void quantize() throws Exception {
        output = dir.resolve("out/cnn_int8.onnx");
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, String.join("\n",
                "model: " + TestAssets.model("fmnist_cnn.onnx"),
                "output: out/cnn_int8.onnx",
                "engine: {threads: 1, batch_size: 32}",
                "datasets:",
                "  calibration: {type: numpy, path: " + TestAssets.data("fmnist-calib-300.npy") + "}",
                "  validation: {type: numpy, path: " + TestAssets.data("fmnist-test-1k.npy") + ", labels: " + TestAssets.data("fmnist-test-1k-labels.npy") + "}",
                "metric: {type: accuracy}",
                "report: {html: out/report.html, json: out/report.json, samples: 32}",
                "pipeline:",
                "  - algorithm: DefaultQuantization",
                "    params: {stat_subset_size: 300}",
                ""));
        html = dir.resolve("out/report.html");
        json = dir.resolve("out/report.json");
        String[] r = ptq("quantize", "-c", yaml.toString(), "--json");
        stdout = r[0];
        stderr = r[1];
    }

    static String[] ptq(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                k -> null, folders -> PluginLoader.classpathOnly());
        return new String[]{out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void jsonFollowsTheSchemaAndSaysWhatEachLayerBecame() throws Exception {
        assertEquals(0, code, stderr);
        JsonNode doc = SchemaCheck.valid(stdout);
        JsonNode file = SchemaCheck.valid(Files.readString(json));
        assertEquals(doc.get("summary").get("metric"), file.get("summary").get("metric"), "--json and report.json agree");
        JsonNode s = doc.get("summary");
        assertEquals(Files.size(TestAssets.model("fmnist_cnn.onnx")), s.get("input_bytes").asLong());
        assertEquals(Files.size(output), s.get("output_bytes").asLong());
        JsonNode m = s.get("metric");
        assertEquals("accuracy", m.get("name").asText());
        assertEquals(1000, m.get("samples").asInt());
        double fp32 = m.get("fp32").asDouble();
        assertTrue(m.get("fp32_ci95").get(0).asDouble() < fp32 && fp32 < m.get("fp32_ci95").get(1).asDouble(), m.toString());
        assertTrue(s.get("steps").get(0).get("time_s").isNumber());
        assertTrue(s.get("cpu").get("int8_path").isTextual());
        JsonNode rows = doc.get("layers").get("rows");
        assertEquals(32, doc.get("layers").get("samples").asInt());
        assertTrue(rows.size() >= 3, rows.toString());
        for (JsonNode row : rows) {
            assertEquals("int8", row.get("precision").asText(), row.toString());
            assertEquals("per-channel", row.get("granularity").asText(), row.toString());
            assertTrue(row.get("ort_kernel").isTextual(), "the kernel ORT runs is named: " + row);
            assertTrue(row.get("isolated_sqnr_db").asDouble() > 10 && row.get("accumulated_sqnr_db").asDouble() > 5, row.toString());
            assertTrue(row.get("isolated_cosine").asDouble() > 0.95, row.toString());
        }
        // ORT fuses the Convs into integer kernels
        assertTrue(rows.get(0).get("ort_kernel").asText().startsWith("QLinearConv") || rows.get(0).get("ort_kernel").asText().contains("Conv"), rows.get(0).toString());
        assertFalse(doc.get("ranges").get("activations").isEmpty());
        assertFalse(doc.get("ranges").get("weights").isEmpty());
        assertTrue(doc.get("accuracy_aware").isNull());
    }

    /** Three layers' SQNR vs FP32, computed here from tensors ONNX Runtime hands out directly: within 0.1 dB of the report. */
    @Test
    void perLayerSqnrMatchesAnIndependentComputation() throws Exception {
        assertEquals(0, code, stderr);
        JsonNode rows = SchemaCheck.valid(stdout).get("layers").get("rows");
        Model fp32 = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx")), q = OnnxIO.read(output);
        Tensor x = TestAssets.npy("fmnist-calib-300.npy").slice0(0, 32);    // the report's samples: the first 32 calibration rows
        for (int i = 0; i < 3; i++) {
            JsonNode row = rows.get(i);
            String layer = row.get("name").asText();
            float[] ref = layerOutput(fp32, fp32.graph().node(layer).orElseThrow().output(0), x);
            float[] got = layerOutput(q, q.graph().node(layer).orElseThrow().output(0), x);
            assertEquals(ref.length, got.length);
            double rr = 0, ee = 0;
            for (int k = 0; k < ref.length; k++) { rr += (double) ref[k] * ref[k]; ee += (double) (ref[k] - got[k]) * (ref[k] - got[k]); }
            double sqnr = 10 * Math.log10(rr / ee);
            System.out.printf("layer %s: SQNR independent %.3f dB, report accumulated %.3f dB, isolated %.3f dB%n", layer, sqnr,
                    row.get("accumulated_sqnr_db").asDouble(), row.get("isolated_sqnr_db").asDouble());
            assertEquals(sqnr, row.get("accumulated_sqnr_db").asDouble(), 0.1, layer);
            if (i == 0) assertEquals(sqnr, row.get("isolated_sqnr_db").asDouble(), 0.1, "the first layer reads the model input: isolated = accumulated");
        }
    }

    /** One intermediate tensor of {@code model} on {@code x}, by ONNX Runtime's own Java API. */
    private static float[] layerOutput(Model model, String tensor, Tensor x) throws Exception {
        Model m = model.copy();
        m.graph().outputs().add(ValueInfo.nameOnly(tensor));
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(1);
            try (OrtSession s = env.createSession(OnnxIO.toBytes(m), so);
                 OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.floats()), x.shape());
                 OrtSession.Result r = s.run(Map.of(s.getInputNames().iterator().next(), in), Set.of(tensor))) {
                FloatBuffer b = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] v = new float[b.remaining()];
                b.get(v);
                return v;
            }
        }
    }

    @Test
    void htmlRendersInHeadlessChromiumWithEverySectionAndChart() throws Exception {
        assertEquals(0, code, stderr);
        String chromium = chromium();
        Assumptions.assumeTrue(chromium != null, "chromium is not installed (Debian package 'chromium'; .ci/run installs it)");
        String source = Files.readString(html);
        assertFalse(source.contains("http://") && source.replace("http://www.w3.org/2000/svg", "").contains("http://"), "no network references");
        assertTrue(Files.size(html) < 5_000_000);
        int charts = count(source, "<svg class=\"chart\"");
        assertTrue(charts >= 6, "summary (metric, size, steps), per-layer SQNR, ranges: " + charts);

        String dom = run(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.toUri().toString());
        for (String id : List.of("summary", "layers", "ranges"))
            assertTrue(dom.contains("<section id=\"" + id + "\""), "section " + id + " in the rendered DOM");
        // every chart is in the DOM and drew shapes
        Matcher svg = Pattern.compile("<svg class=\"chart\" id=\"([^\"]+)\"[^>]*>(.*?)</svg>", Pattern.DOTALL).matcher(dom);
        int drawn = 0;
        Set<String> ids = new HashSet<>();
        while (svg.find()) {
            ids.add(svg.group(1));
            int shapes = count(svg.group(2), "<rect") + count(svg.group(2), "<path") + count(svg.group(2), "<circle");
            assertTrue(shapes > 0, "chart " + svg.group(1) + " drew nothing");
            drawn++;
        }
        assertEquals(charts, drawn, "charts rendered: " + ids);
        // the sortable table was built and the sort script ran without breaking the page
        assertTrue(dom.contains("<table class=\"sortable\">"));

        Path png = Path.of("target/quantization-report.png").toAbsolutePath();
        run(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2200",
                "--screenshot=" + png, html.toUri().toString());
        BufferedImage img = ImageIO.read(png.toFile());
        Set<Integer> colours = new HashSet<>();
        for (int yy = 0; yy < img.getHeight(); yy += 4) for (int xx = 0; xx < img.getWidth(); xx += 4) colours.add(img.getRGB(xx, yy));
        System.out.printf("screenshot %s: %dx%d, %d bytes, %d colours%n", png, img.getWidth(), img.getHeight(), Files.size(png), colours.size());
        assertTrue(colours.size() > 20, "the screenshot is not blank: " + colours.size() + " colours");
    }

    @Test
    void evaluateBenchmarkAndPluginsJsonFollowTheSchema() throws Exception {
        assertEquals(0, code, stderr);
        String[] e = ptq("evaluate", "--model", TestAssets.model("fmnist_cnn.onnx").toString(), "--model", output.toString(),
                "--data", TestAssets.data("fmnist-test-1k.npy").toString(), "--labels", TestAssets.data("fmnist-test-1k-labels.npy").toString(),
                "--metric", "accuracy", "--limit", "200", "--json", "--report", dir.resolve("eval.html").toString());
        assertEquals(0, code, e[1]);
        JsonNode ev = SchemaCheck.valid(e[0]);
        assertEquals("evaluate", ev.get("kind").asText());
        assertEquals(200, ev.get("results").get(1).get("samples").asInt());
        assertTrue(Files.readString(dir.resolve("eval.html")).contains("<svg class=\"chart\""));
        String[] b = ptq("benchmark", "--model", TestAssets.model("fmnist_cnn.onnx").toString(), "--model", output.toString(),
                "--warmup", "1", "--runs", "3", "--json", "--report", dir.resolve("bench.html").toString());
        assertEquals(0, code, b[1]);
        assertEquals(2, SchemaCheck.valid(b[0]).get("results").size());
        assertTrue(Files.readString(dir.resolve("bench.html")).contains("<svg class=\"chart\""));
        String[] p = ptq("plugins", "--json");
        assertEquals(0, code, p[1]);
        assertTrue(SchemaCheck.valid(p[0]).get("algorithms").size() >= 2);
    }

    /** Raw 0..255 pixels into a model trained on scaled input: the summary says so, without --report too. */
    @Test
    void dataSanityWarnings() {
        String[] r = ptq("quantize", "--model", TestAssets.model("fmnist_cnn.onnx").toString(), "--data", TestAssets.data("fmnist-calib-300-u8.npy").toString(),
                "--output", dir.resolve("raw/cnn_int8.onnx").toString(), "--subset-size", "64");
        assertEquals(0, code, r[1]);
        assertTrue(r[0].contains("warning: datasets.calibration: the float inputs are whole numbers in 0..255: raw 0..255 pixels?"), r[0]);
        System.out.println(r[0].lines().filter(l -> l.startsWith("warning")).toList());
    }

    static String chromium() {
        for (String c : List.of("chromium", "chromium-browser", "google-chrome")) {
            for (String d : (System.getenv("PATH") == null ? "/usr/bin" : System.getenv("PATH")).split(":")) {
                if (Files.isExecutable(Path.of(d, c))) return Path.of(d, c).toString();
            }
        }
        return null;
    }

    static String run(String... cmd) throws Exception {
        Path log = Files.createTempFile(dir, "chromium", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium finished");
        assertEquals(0, p.exitValue(), Files.readString(log));
        return new String(out, StandardCharsets.UTF_8);
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }
}
