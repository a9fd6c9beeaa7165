package org.ptq4j.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input on a cluster: clear errors, nothing written; a task that fails once is retried and the result stays exact. */
class SparkFailureTest {
    static final String STEP = "- algorithm: DefaultQuantization";

    private static PtqException runFails(PipelineConfig cfg, java.util.function.BiFunction<String, Long, Progress> progress) {
        PtqException e = assertThrows(PtqException.class, () -> new PipelineRunner(SparkFixture.REGISTRY, SparkFixture.ENGINE, progress).run(cfg));
        System.out.println("error: " + e.getMessage());
        assertFalse(Files.exists(cfg.output()), "nothing written: " + cfg.output());
        return e;
    }

    @Test
    void unreachableMasterFailsBeforeAnyWork(@TempDir Path dir) throws Exception {
        PipelineConfig cfg = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_cnn.onnx", SparkFixture.test1k(), "{type: accuracy}",
                "{type: spark, master: \"spark://127.0.0.1:1\"}", STEP));
        long t = System.nanoTime();
        PtqException e = runFails(cfg, (task, n) -> { throw new AssertionError("no work may start: " + task); });
        assertTrue(e.getMessage().startsWith("cluster.master: cannot reach the Spark master spark://127.0.0.1:1"), e.getMessage());
        assertTrue((System.nanoTime() - t) / 1e9 < SparkClusterFactory.CONNECT_TIMEOUT_MS / 1000.0 + 5);

        PipelineConfig bad = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_cnn.onnx", SparkFixture.test1k(), "{type: accuracy}",
                "{type: spark, master: \"nosuch://x\"}", STEP));
        PtqException b = runFails(bad, (task, n) -> { throw new AssertionError("no work may start: " + task); });
        assertTrue(b.getMessage().startsWith("cluster.master: cannot start Spark with master 'nosuch://x'"), b.getMessage());
    }

    @Test
    void modelExecutorsCannotReadIsNamed(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("models/resnet.onnx");
        Files.createDirectories(model.getParent());
        Files.copy(TestAssets.model("fmnist_resnet.onnx"), model);
        Path yaml = SparkFixture.yaml(dir, "fmnist_resnet.onnx", SparkFixture.test1k(), "{type: accuracy}",
                "{type: spark, master: \"local[2]\", max_failures: 2}", STEP);
        Files.writeString(yaml, Files.readString(yaml).replace(TestAssets.model("fmnist_resnet.onnx").toString(), model.toString()));
        PipelineConfig cfg = SparkFixture.load(yaml);
        // the driver has read the model; the executors find it gone (storage they do not share)
        PtqException e = runFails(cfg, (task, n) -> {
            if (task.startsWith("Collecting")) model.toFile().delete();
            return Progress.NONE;
        });
        assertTrue(e.getMessage().startsWith("cluster: statistics collection failed on the executors after 2 attempt(s) of a task: shard "), e.getMessage());
        assertTrue(e.getMessage().contains("this executor cannot read the model " + model), e.getMessage());
    }

    @Test
    void taskFailingEveryAttemptFailsTheRunAndRemovesTheOutput(@TempDir Path dir) throws Exception {
        Path marker = dir.resolve("failed-once");
        PipelineConfig cfg = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_cnn.onnx", SparkFixture.test1k(),
                "{type: test_error_rate, fail_once: " + marker + "}", "{type: spark, master: \"local[2]\", max_failures: 1}", STEP));
        PtqException e = runFails(cfg, (task, n) -> Progress.NONE);
        assertTrue(e.getMessage().contains("evaluation failed on the executors after 1 attempt(s)")
                && e.getMessage().contains("injected executor failure"), e.getMessage());
    }

    @Test
    void taskFailingOnceIsRetriedAndTheResultIsExact(@TempDir Path dir) throws Exception {
        Path marker = dir.resolve("failed-once");
        PipelineConfig cfg = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_resnet.onnx", SparkFixture.test1k(),
                "{type: test_error_rate, fail_once: " + marker + "}", "{type: spark, master: \"local[2]\"}", STEP));
        Evaluation spark;
        try (PassRunner passes = PipelineRunner.passes(cfg, SparkFixture.REGISTRY); var run = new SparkFixture.Run(cfg, passes)) {
            Dataset v = run.dataset(PipelineContext.VALIDATION);
            spark = run.ctx.evaluate(run.model, null, run.metric, v, run.ctx.subset(v, v.size(), 0, false));
        }
        assertTrue(Files.exists(marker), "a task failed once");
        try (var run = new SparkFixture.Run(cfg.withCluster(null), PassRunner.LOCAL)) {
            Dataset v = run.dataset(PipelineContext.VALIDATION);
            Evaluation local = run.ctx.evaluate(run.model, null, run.metric, v, run.ctx.subset(v, v.size(), 0, false));
            System.out.printf("after a retried task: local[2] %.6f, single machine %.6f%n", spark.value(), local.value());
            assertEquals(local.value(), spark.value(), 0.0);
            assertEquals(local.samples(), spark.samples());
            assertArrayEquals(local.perSample(), spark.perSample(), 0.0);
        }
    }
}
