package org.ptq4j.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.spi.Progress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A full AccuracyAwareQuantization run (statistics, every full candidate evaluation, the final
 * FP32-vs-result evaluation) on Spark local[2] against the single-machine run: the same reverted
 * layers, the same metric values, the same written model.
 */
class SparkAccuracyAwareTest {
    static final String STEP = """
            - algorithm: AccuracyAwareQuantization
              params:
                maximal_drop: 0.005
                base_algorithm: MinMaxQuantization
                base_params: {weights: {bits: 4}}
            """;

    @Test
    @SuppressWarnings("unchecked")
    void sameLayersAsSingleMachine(@TempDir Path dir) throws Exception {
        Path localDir = Files.createDirectories(dir.resolve("local")), sparkDir = Files.createDirectories(dir.resolve("spark"));
        PipelineConfig local = SparkFixture.load(SparkFixture.yaml(localDir, "fmnist_resnet.onnx", SparkFixture.test1k(), "{type: accuracy}", null, STEP));
        PipelineConfig spark = SparkFixture.load(SparkFixture.yaml(sparkDir, "fmnist_resnet.onnx", SparkFixture.test1k(), "{type: accuracy}",
                "{type: spark, master: \"local[2]\"}", STEP));
        long t0 = System.nanoTime();
        var a = new PipelineRunner(SparkFixture.REGISTRY, SparkFixture.ENGINE, (t, n) -> Progress.NONE).run(local);
        long t1 = System.nanoTime();
        var b = new PipelineRunner(SparkFixture.REGISTRY, SparkFixture.ENGINE, (t, n) -> Progress.NONE).run(spark);
        long t2 = System.nanoTime();
        Map<String, Object> ra = (Map<String, Object>) a.report().get("AccuracyAwareQuantization");
        Map<String, Object> rb = (Map<String, Object>) b.report().get("AccuracyAwareQuantization");
        System.out.printf("AccuracyAwareQuantization: single machine %.1f s, local[2] %.1f s%n  single: %s%n  spark:  %s%n",
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, ra, rb);
        List<String> reverted = (List<String>) ra.get("reverted_layers");
        assertFalse(reverted.isEmpty(), "the budget makes the search revert layers");
        assertEquals(reverted, rb.get("reverted_layers"));
        assertEquals(ra.get("budget_met"), rb.get("budget_met"));
        assertEquals(a.report().get("accuracy"), b.report().get("accuracy"));
        assertTrue((Boolean) rb.get("budget_met"));
        assertArrayEquals(Files.readAllBytes(a.output()), Files.readAllBytes(b.output()), "the same model is written");
    }
}
