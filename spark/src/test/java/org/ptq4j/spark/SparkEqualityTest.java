package org.ptq4j.spark;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.stats.MeanSpec;
import org.ptq4j.spi.stats.Range;
import org.ptq4j.spi.stats.RangeSpec;
import org.ptq4j.spi.stats.StatisticRequest;
import org.ptq4j.spi.stats.Statistics;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spark local[2] against the single-machine path on fmnist_resnet: the same metric values (and
 * per-sample values), the same statistics (min/max bit-identical, means within float tolerance).
 */
class SparkEqualityTest {
    @TempDir static Path dir;
    static PipelineConfig cfg;
    static PassRunner spark;

    @BeforeAll
    static void start() throws Exception {
        cfg = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_resnet.onnx", SparkFixture.test1k(), "{type: accuracy}",
                "{type: spark, master: \"local[2]\"}", "- algorithm: DefaultQuantization"));
        long t = System.nanoTime();
        spark = PipelineRunner.passes(cfg, SparkFixture.REGISTRY);
        System.out.printf("Spark local[2] started in %.1f s%n", (System.nanoTime() - t) / 1e9);
    }

    @AfterAll
    static void stop() { if (spark != null) spark.close(); }

    @Test
    void evaluationEqualsSingleMachine() {
        assertTrue(spark instanceof SparkPasses, "cluster type spark selected: " + spark);
        assertEquals(2, ((SparkPasses) spark).parallelism());
        try (var local = new SparkFixture.Run(cfg.withCluster(null), PassRunner.LOCAL); var dist = new SparkFixture.Run(cfg, spark)) {
            Dataset lv = local.dataset(PipelineContext.VALIDATION), dv = dist.dataset(PipelineContext.VALIDATION);
            int[] all = local.ctx.subset(lv, lv.size(), 0, false);
            Evaluation a = local.ctx.evaluate(local.model, local.model, local.metric, lv, all);
            long t = System.nanoTime();
            Evaluation b = dist.ctx.evaluate(dist.model, dist.model, dist.metric, dv, all);
            System.out.printf("accuracy on %d samples: single machine %.6f, local[2] %.6f (%.1f s)%n", all.length, a.value(), b.value(), (System.nanoTime() - t) / 1e9);
            assertEquals(a.value(), b.value(), 0.0);
            assertEquals(a.samples(), b.samples());
            assertArrayEquals(a.perSample(), b.perSample(), 0.0);

            // an odd subset (not a multiple of the batch size, not in order of shards) and a seeded random choice
            int[] some = local.ctx.subset(lv, 517, 7, true);
            assertArrayEquals(local.ctx.evaluate(local.model, local.model, local.metric, lv, some).perSample(),
                    dist.ctx.evaluate(dist.model, dist.model, dist.metric, dv, some).perSample(), 0.0);
        }
    }

    @Test
    void thirdPartyMetricRunsDistributedAsIs() throws Exception {
        PipelineConfig c = SparkFixture.load(SparkFixture.yaml(dir, "fmnist_resnet.onnx", SparkFixture.test1k(), "{type: test_error_rate}",
                "{type: spark, master: \"local[2]\"}", "- algorithm: DefaultQuantization"));
        try (var local = new SparkFixture.Run(c.withCluster(null), PassRunner.LOCAL); var dist = new SparkFixture.Run(c, spark)) {
            Dataset lv = local.dataset(PipelineContext.VALIDATION), dv = dist.dataset(PipelineContext.VALIDATION);
            int[] all = local.ctx.subset(lv, lv.size(), 0, false);
            Evaluation a = local.ctx.evaluate(local.model, null, local.metric, lv, all);
            Evaluation b = dist.ctx.evaluate(dist.model, null, dist.metric, dv, all);
            System.out.printf("test_error_rate: single machine %.6f, local[2] %.6f%n", a.value(), b.value());
            assertTrue(a.value() > 0 && a.value() < 0.2);
            assertEquals(a.value(), b.value(), 0.0);
            assertArrayEquals(a.perSample(), b.perSample(), 0.0);
        }
    }

    @Test
    void statisticsEqualSingleMachine() {
        try (var local = new SparkFixture.Run(cfg.withCluster(null), PassRunner.LOCAL); var dist = new SparkFixture.Run(cfg, spark)) {
            List<StatisticRequest> reqs = new ArrayList<>();
            RangeSpec meanOfQuantiles = new RangeSpec(RangeSpec.Reduce.QUANTILE, RangeSpec.Aggregate.MEAN, RangeSpec.Reduce.QUANTILE, RangeSpec.Aggregate.MEAN, 1e-4);
            RangeSpec medianAbsMax = new RangeSpec(RangeSpec.Reduce.MIN, RangeSpec.Aggregate.MEDIAN, RangeSpec.Reduce.ABS_MAX, RangeSpec.Aggregate.MEDIAN, 0);
            for (var in : local.model.graph().feedInputs()) reqs.add(new StatisticRequest(in.name(), RangeSpec.minMax()));
            int weights = 0;
            for (Node n : local.model.graph().nodes()) {
                for (String o : n.outputs()) {
                    reqs.add(new StatisticRequest(o, RangeSpec.minMax()));
                    reqs.add(new StatisticRequest(o, meanOfQuantiles));
                    reqs.add(new StatisticRequest(o, medianAbsMax));
                    reqs.add(new StatisticRequest(o, MeanSpec.perChannel(1)));
                }
                if (n.opType().equals("Conv") && weights++ < 3) reqs.add(new StatisticRequest(n.inputs().get(1), RangeSpec.minMax()));   // initializers: once
            }
            Dataset lc = local.dataset(PipelineContext.CALIBRATION), dc = dist.dataset(PipelineContext.CALIBRATION);
            int[] idx = local.ctx.subset(lc, 300, 0, false);
            Statistics a = local.ctx.collect(local.model, lc, idx, reqs);
            long t = System.nanoTime();
            Statistics b = dist.ctx.collect(dist.model, dc, idx, reqs);
            System.out.printf("statistics: %d requests on %d samples, local[2] %.1f s%n", reqs.size(), idx.length, (System.nanoTime() - t) / 1e9);
            assertEquals(a.samples(), b.samples());
            int minMax = 0;
            double worstMean = 0;
            for (StatisticRequest r : reqs) {
                Object x = a.get(r), y = b.get(r);
                if (r.spec().equals(RangeSpec.minMax()) || r.spec().equals(medianAbsMax)) {
                    Range p = (Range) x, q = (Range) y;
                    assertEquals(Float.floatToIntBits(p.min()), Float.floatToIntBits(q.min()), r.toString());
                    assertEquals(Float.floatToIntBits(p.max()), Float.floatToIntBits(q.max()), r.toString());
                    minMax++;
                } else if (x instanceof Range p) {
                    Range q = (Range) y;
                    worstMean = Math.max(worstMean, Math.max(rel(p.min(), q.min()), rel(p.max(), q.max())));
                } else {
                    float[] p = (float[]) x, q = (float[]) y;
                    for (int i = 0; i < p.length; i++) worstMean = Math.max(worstMean, rel(p[i], q[i]));
                }
            }
            System.out.printf("statistics: %d min/max and median ranges bit-identical; means: worst relative difference %.2e%n", minMax, worstMean);
            assertTrue(worstMean < 1e-5, "means within float merge tolerance: " + worstMean);
        }
    }

    private static double rel(float a, float b) { return Math.abs(a - b) / Math.max(1e-6, Math.max(Math.abs(a), Math.abs(b))); }
}
