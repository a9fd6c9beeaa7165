package org.ptq4j.spark;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.data.Dataset;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Single machine vs Spark local[1] vs local[2]: accuracy of fmnist_resnet on the 10k Fashion-MNIST
 * test split (1 intra-op thread per session, batch 32), median of 3 timed runs after a warm-up, plus
 * Spark's fixed costs (context start, an empty task, a 32-sample shard). Not in the default build:
 * {@code ./mvnw -B verify -pl spark -am -Dtest=SparkBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dgroups=benchmark -Dbench.excluded=none}
 */
@Tag("benchmark")
class SparkBenchmark {
    static final int RUNS = 3;

    @Test
    void singleMachineVsLocal1VsLocal2(@TempDir Path dir) throws Exception {
        String[] masters = {null, "local[1]", "local[2]"};
        double[] median = new double[masters.length];
        List<String> lines = new ArrayList<>();
        Double value = null;
        for (int m = 0; m < masters.length; m++) {
            String cluster = masters[m] == null ? null : "{type: spark, master: \"" + masters[m] + "\"}";
            PipelineConfig cfg = SparkFixture.load(SparkFixture.yaml(Files.createDirectories(dir.resolve("m" + m)), "fmnist_resnet.onnx",
                    SparkFixture.test10k(), "{type: accuracy}", cluster, "- algorithm: DefaultQuantization"));
            long s0 = System.nanoTime();
            try (PassRunner passes = PipelineRunner.passes(cfg, SparkFixture.REGISTRY); var run = new SparkFixture.Run(cfg, passes)) {
                double start = (System.nanoTime() - s0) / 1e9;
                Dataset v = run.dataset(PipelineContext.VALIDATION);
                int[] all = run.ctx.subset(v, v.size(), 0, false);
                run.ctx.evaluate(run.model, null, run.metric, v, all);   // warm-up
                double[] t = new double[RUNS];
                for (int r = 0; r < RUNS; r++) {
                    long a = System.nanoTime();
                    Evaluation e = run.ctx.evaluate(run.model, null, run.metric, v, all);
                    t[r] = (System.nanoTime() - a) / 1e9;
                    if (value == null) value = e.value();
                    assertEquals(value, e.value(), 0.0);
                }
                Arrays.sort(t);
                median[m] = t[RUNS / 2];
                String extra = "";
                if (passes instanceof SparkPasses sp) {
                    var jsc = new org.apache.spark.api.java.JavaSparkContext(sp.context());
                    List<Integer> n = new ArrayList<>();
                    for (int i = 0; i < 200; i++) n.add(i);
                    jsc.parallelize(n, 200).count();
                    long a = System.nanoTime();
                    jsc.parallelize(n, 200).count();
                    double perTask = (System.nanoTime() - a) / 1e9 / 200;
                    int[] few = Arrays.copyOf(all, 32 * sp.parallelism());
                    run.ctx.evaluate(run.model, null, run.metric, v, few);
                    a = System.nanoTime();
                    run.ctx.evaluate(run.model, null, run.metric, v, few);
                    double smallPass = (System.nanoTime() - a) / 1e9;
                    extra = String.format(Locale.ROOT, "  context start %.1f s, empty task %.1f ms, pass of %d x 32-sample shards %.0f ms",
                            start, perTask * 1e3, sp.parallelism(), smallPass * 1e3);
                }
                lines.add(String.format(Locale.ROOT, "%-16s %7.2f s  %6.0f samples/s  runs %s%s", masters[m] == null ? "single machine" : masters[m],
                        median[m], all.length / median[m], Arrays.toString(Arrays.stream(t).map(x -> Math.round(x * 100) / 100.0).toArray()), extra));
            }
        }
        System.out.println("fmnist_resnet, 10k test images, accuracy " + value + ", median of " + RUNS + " (" + cpu() + ", "
                + Runtime.getRuntime().availableProcessors() + " cpus)");
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "ratios (time / single machine): local[1] %.2f, local[2] %.2f; speed-up local[2] vs local[1] %.2fx%n",
                median[1] / median[0], median[2] / median[0], median[1] / median[2]);
    }

    private static String cpu() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
        } catch (Exception e) {
            return "unknown CPU";
        }
    }
}
