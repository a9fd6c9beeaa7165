package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.report.ReportDocs;
import org.ptq4j.host.report.ReportWriter;
import org.ptq4j.host.testing.SchemaCheck;
import org.ptq4j.plugins.transformer.MiniLm;
import org.ptq4j.spi.Progress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Benchmark: the report of a MiniLM-size run (all-MiniLM-L6-v2, the README's transformer pipeline: 300 calibration lines at
 * 128 tokens, 200 validation lines, embedding_cosine) costs under 10 % of the quantize run and stays under 5 MB.
 * <p>
 * Run: {@code ./mvnw -o verify -pl plugins/quantization -am -Dgroups=benchmark -Dbench.excluded=none -Dtest=ReportMiniLmBenchmarkTest -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("benchmark")
class ReportMiniLmBenchmarkTest {
    @Test
    void reportOfMiniLmIsCheapAndSmall(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("minilm.yaml");
        Files.writeString(yaml, String.join("\n",
                "model: " + MiniLm.fp32Path(),
                "output: out/minilm-int8.onnx",
                "engine: {threads: 1, batch_size: 16}",
                "datasets:",
                "  calibration: {type: text, path: " + MiniLm.sentences() + ", tokenizer: " + MiniLm.tokenizer() + ", max_length: 128, limit: 300}",
                "  validation: {type: text, path: " + MiniLm.sentences() + ", tokenizer: " + MiniLm.tokenizer() + ", max_length: 128, skip: 1000, limit: 200}",
                "metric: {type: embedding_cosine}",
                "report: {html: out/report.html, json: out/report.json}",
                "pipeline:",
                "  - algorithm: DefaultQuantization",
                "    params: {model_type: transformer}",
                ""));
        Registry registry = Registry.fromClasspath();
        PipelineConfig cfg = new PipelineConfigLoader(registry).load(yaml);
        OrtEngine engine = new OrtEngine();
        long t0 = System.nanoTime();
        PipelineRunner.Result r = new PipelineRunner(registry, engine, (t, n) -> Progress.NONE).run(cfg);
        double quantize = (System.nanoTime() - t0) / 1e9;

        long t1 = System.nanoTime();
        ReportDocs.Options opts = new ReportDocs.Options(cfg.report().html(), cfg.report().json(), cfg.report().samples(), cfg.report().worstLayers());
        Map<String, Object> doc = ReportDocs.quantize(cfg, r, null, opts, engine, "benchmark");
        ReportWriter.write(doc, opts.html(), opts.json());
        double report = (System.nanoTime() - t1) / 1e9;

        long html = Files.size(opts.html()), json = Files.size(opts.json());
        @SuppressWarnings("unchecked") Map<String, Object> layers = (Map<String, Object>) doc.get("layers");
        @SuppressWarnings("unchecked") List<Map<String, Object>> rows = (List<Map<String, Object>>) layers.get("rows");
        System.out.printf("MiniLM report: quantize run %.1f s, report %.2f s (%.1f%%; layer analysis %.2f s on %s samples), %d layers, HTML %d bytes, JSON %d bytes, kernels %s%n",
                quantize, report, 100 * report / quantize, ((Number) layers.get("time_s")).doubleValue(), layers.get("samples"), rows.size(), html, json,
                layers.get("ort_kernels"));
        SchemaCheck.valid(Files.readString(opts.json()));
        Files.copy(opts.html(), Path.of("target/minilm-report.html"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertEquals(48, rows.size(), "36 weight Gemms + 12 attention MatMuls");
        assertTrue(report < 0.10 * quantize, "report " + report + " s vs quantize " + quantize + " s");
        assertTrue(html < 5_000_000, "HTML " + html + " bytes");
    }
}
