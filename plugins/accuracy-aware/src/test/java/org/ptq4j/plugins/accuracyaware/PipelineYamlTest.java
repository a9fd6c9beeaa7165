package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Progress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** AccuracyAwareQuantization as a user writes it: a YAML pipeline run by the host's PipelineRunner. */
class PipelineYamlTest {
    @Test
    @SuppressWarnings("unchecked")
    void yamlPipelineMeetsTheBudget(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, Fixture.aaqPipeline("out/aaq.onnx", """
                maximal_drop: 0.005
                base_algorithm: MinMaxQuantization
                base_params: {weights: {bits: 4}}
                """));
        var cfg = new PipelineConfigLoader(Fixture.REGISTRY, k -> null).load(yaml);
        var result = new PipelineRunner(Fixture.REGISTRY, Fixture.ENGINE, (t, n) -> Progress.NONE).run(cfg);
        Map<String, Object> aaq = (Map<String, Object>) result.report().get(AccuracyAwareQuantization.NAME);
        System.out.println("YAML run: " + aaq);
        assertTrue((Boolean) aaq.get("budget_met"));
        assertTrue((Double) aaq.get("int8_drop") > 0.005);
        assertTrue(!((List<String>) aaq.get("reverted_layers")).isEmpty());
        double fp32 = Fixture.independentAccuracy(Fixture.model("fmnist_resnet.onnx"));
        double out = Fixture.independentAccuracy(OnnxIO.read(dir.resolve("out/aaq.onnx")));
        assertTrue(fp32 - out <= 0.005 + 1e-9, "written model drop " + (fp32 - out));
    }
}
