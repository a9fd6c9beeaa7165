package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Progress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ptq4j.plugins.biascorrection.Fixtures.*;

/** Both corrections as their own YAML pipeline steps after MinMaxQuantization, through the real runner. */
class PipelineTest {
    @Test
    void bothVariantsRunAsPipelineSteps(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("pipeline.yaml");
        Files.writeString(yaml, String.join("\n",
                "model: " + TestAssets.model("fmnist_resnet.onnx"),
                "output: out/resnet_int8.onnx",
                "engine: {threads: 1, batch_size: 50}",
                "datasets:",
                "  calibration: {type: numpy, path: " + TestAssets.data("fmnist-calib-300.npy") + "}",
                "pipeline:",
                "  - algorithm: MinMaxQuantization",
                "    params: {weights: {granularity: pertensor}}",
                "  - algorithm: FastBiasCorrection",
                "  - algorithm: BiasCorrection",
                "    params: {threshold: 1000}", ""));
        Registry registry = Registry.fromClasspath();
        var result = new PipelineRunner(registry, ENGINE, (t, n) -> Progress.NONE).run(new PipelineConfigLoader(registry).load(yaml));
        for (String step : List.of(FastBiasCorrection.NAME, BiasCorrection.NAME)) {
            @SuppressWarnings("unchecked") Map<String, Object> section = (Map<String, Object>) result.report().get(step);
            // (BiasCorrection, run after FastBiasCorrection, may find a bias element that correction set to 0 and, as NNCF does, leave that layer)
            String count = section.get("layers corrected").toString();
            assertTrue(count.endsWith(" of 11") && Integer.parseInt(count.split(" ")[0]) >= 10, step + ": " + section);
            // a row per layer and measuring pass (FastBiasCorrection measures twice)
            assertEquals(11, ((List<?>) section.get("layers")).stream().map(r -> ((Map<?, ?>) r).get("layer")).distinct().count());
        }
        // the written model keeps its quantized layers and runs; it agrees with FP32 on held-out data
        var written = org.ptq4j.host.onnx.OnnxIO.read(result.output());
        double agree = agreement(top1(written, TEST_1K), top1(model("fmnist_resnet.onnx"), TEST_1K));
        assertTrue(agree > 0.99, "top-1 agreement with FP32 " + agree);
    }
}
