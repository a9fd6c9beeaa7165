package org.ptq4j.plugins.transformer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** What a user writes: a YAML pipeline with the text dataset, DynamicQuantization and embedding_cosine, run by the host. */
class PipelineYamlTest {
    @Test
    void yamlPipelineQuantizesMiniLmDynamically(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out/minilm-dyn.onnx");
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, String.join("\n",
                "model: " + MiniLm.fp32Path(),
                "output: " + out,
                "engine: {threads: 2, batch_size: 16}",
                "datasets:",
                "  validation: {type: text, path: " + MiniLm.sentences() + ", tokenizer: " + MiniLm.tokenizer()
                        + ", padding: longest, skip: 1500, limit: 96}",
                "metric: {type: embedding_cosine}",
                "pipeline:",
                "  - algorithm: UpgradeOpset",
                "  - algorithm: DynamicQuantization",
                "    params: {quantize_embeddings: true}",
                ""));
        Registry registry = Registry.fromClasspath();
        PipelineRunner.Result r = new PipelineRunner(registry, new OrtEngine(), (t, n) -> Progress.NONE)
                .run(new PipelineConfigLoader(registry).load(yaml));
        System.out.println("pipeline report: " + r.report());
        Model q = OnnxIO.read(out);
        assertEquals(13, q.opset());
        assertEquals(36, q.graph().nodes().stream().filter(n -> n.opType().equals("MatMulInteger")).count());
        assertTrue(Files.size(out) < 26_000_000, "file " + Files.size(out));
        @SuppressWarnings("unchecked") Map<String, Object> upgrade = (Map<String, Object>) r.report().get(UpgradeOpset.NAME);
        assertEquals("opset 11 -> 13: Unsqueeze x51", upgrade.get("summary"));
        String report = r.report().toString();
        assertTrue(report.contains("embedding_cosine"), report);
    }
}
