package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.cli.Main;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.host.testing.TestAssets;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A budget that cannot be met: `ptq quantize` says so, writes the best model found and exits with code 3. */
class BudgetNotMetCliTest {
    @Test
    void unreachableBudgetWritesTheBestModelAndExitsNonZero(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, Fixture.aaqPipeline("out/best.onnx", """
                maximal_drop: 0.0
                max_iter_num: 1
                base_algorithm: MinMaxQuantization
                base_params: {weights: {bits: 3}}
                """));
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        Path report = dir.resolve("out/report.html");
        int code = Main.run(new String[]{"quantize", "-c", yaml.toString(), "--report", report.toString(), "--report-samples", "8"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), k -> null, folders -> PluginLoader.classpathOnly());
        String stderr = err.toString(StandardCharsets.UTF_8);
        assertEquals(Main.EXIT_BUDGET_NOT_MET, code, stderr);
        assertTrue(stderr.contains("accuracy budget not met") && stderr.contains("best model found was written"), stderr);
        // exit 3 still prints the summary (metric FP32 vs best model, the search) and writes the report with the search's chart
        String stdout = out.toString(StandardCharsets.UTF_8);
        assertTrue(stdout.contains("accuracy:") && stdout.contains("fp32:") && stdout.contains("candidates"), stdout);
        String html = Files.readString(report);
        assertTrue(html.contains("<section id=\"accuracy-aware\">") && html.contains("id=\"chart-aa-candidates\"") && html.contains("Budget not met"), "report written");
        Path best = dir.resolve("out/best.onnx");
        assertTrue(Files.exists(best), "the best model is written");
        // the written model is the best found: measurably below FP32 (the budget was 0), but a usable model
        double fp32 = Fixture.independentAccuracy(Fixture.model("fmnist_resnet.onnx"));
        double got = Fixture.independentAccuracy(OnnxIO.read(best));
        assertTrue(got > 0.5 && got < fp32, "best model accuracy " + got + " vs fp32 " + fp32);
    }
}
