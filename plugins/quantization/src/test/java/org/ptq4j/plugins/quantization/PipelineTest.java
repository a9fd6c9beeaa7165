package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** DefaultQuantization through the host's YAML pipeline: config validation, one statistics pass, write, evaluation. */
class PipelineTest {
    @Test
    void yamlPipelineQuantizesTheResnet(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out/resnet_int8.onnx");
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, String.join("\n",
                "model: " + TestAssets.model("fmnist_resnet.onnx"),
                "output: " + out,
                "engine: {threads: 1, batch_size: 32}",
                "datasets:",
                "  calibration: {type: numpy, path: " + TestAssets.data("fmnist-calib-300.npy") + "}",
                "  validation: {type: numpy, path: " + TestAssets.data("fmnist-test-1k.npy") + ", labels: " + TestAssets.data("fmnist-test-1k-labels.npy") + "}",
                "metric: {type: accuracy}",
                "pipeline:",
                "  - algorithm: DefaultQuantization",
                "    params:",
                "      preset: performance",
                "      stat_subset_size: 300",
                "      activations: {range_estimator: {max: {type: max, aggregator: mean}}}",
                "      ignored: {types: [Concat]}",
                ""));
        Registry registry = Registry.fromClasspath();
        PipelineRunner.Result r = new PipelineRunner(registry, Fixtures.ENGINE, (t, n) -> Progress.NONE)
                .run(new PipelineConfigLoader(registry).load(yaml));
        Model q = OnnxIO.read(out);
        assertTrue(q.graph().nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")));
        assertTrue(q.graph().nodes().stream().filter(n -> n.opType().equals("Concat")).count() == 1);
        @SuppressWarnings("unchecked") Map<String, Object> acc = (Map<String, Object>) r.report().get("accuracy");
        System.out.println("pipeline report: " + r.report());
        double delta = ((Number) acc.get("delta")).doubleValue();
        assertTrue(delta >= -0.005, "accuracy delta on 1k test images " + delta);
        assertNotNull(r.report().get("DefaultQuantization"), r.report().toString());
    }
}
