package org.ptq4j.api;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The embedding API on the shared Fashion-MNIST CNN, with samples held as Java objects; real ONNX Runtime. */
class PtqTest {
    /** An application's own record type. */
    record Item(float[] pixels, long label) {}

    static List<float[]> calibration;
    static List<Item> test;
    static Ptq ptq;
    @TempDir Path tmp;

    @BeforeAll
    static void load() {
        calibration = rows(TestAssets.npy("fmnist-calib-300.npy"));
        List<float[]> images = rows(TestAssets.npy("fmnist-test-1k.npy"));
        long[] labels = TestAssets.npy("fmnist-test-1k-labels.npy").longs();
        test = new ArrayList<>();
        for (int i = 0; i < images.size(); i++) test.add(new Item(images.get(i), labels[i]));
        ptq = Ptq.create();
    }

    @AfterAll
    static void close() { ptq.close(); }

    static List<float[]> rows(Tensor t) {
        List<float[]> r = new ArrayList<>();
        for (int i = 0; i < t.dim(0); i++) r.add(t.slice0(i, i + 1).floats());
        return r;
    }

    @Test
    void bundledPluginsAreFoundOnTheClassPath() {
        assertTrue(ptq.algorithms().containsAll(List.of("DefaultQuantization", "MinMaxQuantization", "FastBiasCorrection", "AccuracyAwareQuantization")), ptq.algorithms().toString());
        assertTrue(ptq.metricTypes().containsAll(List.of("accuracy", "cosine")), ptq.metricTypes().toString());
        assertTrue(ptq.datasetTypes().contains("numpy"), ptq.datasetTypes().toString());
        PtqException e = assertThrows(PtqException.class, () -> Ptq.builder().pluginsDir(tmp.resolve("missing")).build());
        assertEquals("plugin folder not found: " + tmp.resolve("missing"), e.getMessage());
    }

    @Test
    void quantizesFromInMemorySamplesWithinHalfAPointOfFp32AndAgreesWithTheYamlPipeline() throws Exception {
        Path out = tmp.resolve("out/fmnist_cnn_int8.onnx");
        Data<Item> validation = Data.ofFloats(test, Item::pixels).labels(Item::label);
        QuantizationResult r = ptq.quantize(TestAssets.model("fmnist_cnn.onnx"))
                .calibration(Data.ofFloats(calibration))
                .validation(validation)
                .output(out)
                .run();
        assertEquals(out, r.output());
        assertTrue(Files.isRegularFile(out));
        assertTrue(r.outputBytes() < r.inputBytes() / 2, r.outputBytes() + " vs " + r.inputBytes());
        assertEquals(300, r.calibrationSamples());
        assertEquals(List.of("DefaultQuantization"), r.steps().stream().map(QuantizationResult.Step::algorithm).toList());
        QuantizationResult.Accuracy a = r.accuracy();
        assertEquals("accuracy", a.metric());
        assertEquals(1000, a.samples());
        assertTrue(a.fp32() > 0.88 && a.fp32() < 0.93, "FP32 accuracy on the 1k test set: " + a.fp32());
        assertEquals(a.fp32(), a.quantized(), 0.005, "INT8 accuracy within half a point of FP32: " + a);
        System.out.printf("api: FP32 %.4f, INT8 %.4f (%+.4f), %.1f s%n", a.fp32(), a.quantized(), a.delta(), r.seconds());

        // evaluate() on the same objects measures the same values
        Evaluation q = ptq.evaluate(out).on(validation).run();
        assertEquals(a.quantized(), q.value(), 1e-9);
        assertEquals(1000, q.perSample().length);
        Evaluation agreement = ptq.evaluate(out).on(Data.ofFloats(calibration)).metric("top1_agreement").reference(TestAssets.model("fmnist_cnn.onnx")).run();
        assertTrue(agreement.value() > 0.95, "top-1 agreement with FP32: " + agreement.value());

        // the same run written as YAML (numpy files of the same samples) gives the same model accuracy: one pipeline logic
        Path yaml = tmp.resolve("pipeline.yaml");
        Files.writeString(yaml, "model: " + TestAssets.model("fmnist_cnn.onnx") + "\n"
                + "output: yaml/out.onnx\n"
                + "datasets:\n"
                + "  calibration: {type: numpy, path: " + TestAssets.data("fmnist-calib-300.npy") + "}\n"
                + "  validation: {type: numpy, path: " + TestAssets.data("fmnist-test-1k.npy") + ", labels: " + TestAssets.data("fmnist-test-1k-labels.npy") + "}\n"
                + "metric: {type: accuracy}\n"
                + "pipeline:\n  - algorithm: DefaultQuantization\n");
        QuantizationResult y = ptq.runPipeline(yaml);
        assertEquals(tmp.resolve("yaml/out.onnx"), y.output());
        assertEquals(a.fp32(), y.accuracy().fp32(), 1e-9);
        assertEquals(a.quantized(), y.accuracy().quantized(), 1e-9);
    }

    @Test
    void modelBytesStepsAndTypedErrors() throws Exception {
        byte[] model = Files.readAllBytes(TestAssets.model("fmnist_cnn.onnx"));
        List<float[]> few = calibration.subList(0, 40);
        // a typo in a step's parameters: every problem with its key path, nothing written
        ConfigException c = assertThrows(ConfigException.class, () -> ptq.quantize(model).calibration(Data.ofFloats(few))
                .step("MinMaxQuantization", Map.of("preste", "mixed", "stat_subset_size", -1)).output(tmp.resolve("bad.onnx")).run());
        assertEquals(2, c.errors().size(), c.getMessage());
        assertTrue(c.getMessage().contains("pipeline[0].params.preste: unknown key 'preste'; did you mean 'preset'?"), c.getMessage());
        assertTrue(c.getMessage().contains("pipeline[0].params.stat_subset_size: -1 is out of range"), c.getMessage());
        assertFalse(Files.exists(tmp.resolve("bad.onnx")));
        // nested parameters of a composite are checked against its base algorithm's
        ConfigException nested = assertThrows(ConfigException.class, () -> ptq.quantize(model).calibration(Data.ofFloats(few))
                .step("AccuracyAwareQuantization", Map.of("base_algorithm", "MinMaxQuantization", "base_params", Map.of("weights", Map.of("bitz", 4))))
                .output(tmp.resolve("bad.onnx")).run());
        assertEquals("pipeline[0].params.base_params.weights.bitz: unknown key 'bitz'; did you mean 'bits'?", nested.errors().get(0).toString());
                PtqException unknown = assertThrows(PtqException.class, () -> ptq.quantize(model).calibration(Data.ofFloats(few)).step("Nope", Map.of()).run());
        assertTrue(unknown.getMessage().startsWith("unknown algorithm 'Nope'; installed: "), unknown.getMessage());
        PtqException shape = assertThrows(PtqException.class, () -> ptq.quantize(model).calibration(Data.ofFloats(List.of(new float[783]))).output(tmp.resolve("x.onnx")).run());
        assertTrue(shape.getMessage().contains("sample 0: 783 values do not fit input"), shape.getMessage());
        PtqException labels = assertThrows(PtqException.class, () -> ptq.evaluate(TestAssets.model("fmnist_cnn.onnx")).on(Data.ofFloats(few)).run());
        assertEquals("metric 'accuracy' needs labels, but the data has none: use Data.labels(...)", labels.getMessage());

        // bytes in, an explicit step with parameters, default output in the temp folder; a Dataset built from a transform
        record Photo(String id, float[] gray) {}
        List<Photo> photos = new ArrayList<>();
        for (int i = 0; i < few.size(); i++) photos.add(new Photo("p" + i, few.get(i)));
        QuantizationResult r = ptq.quantize(model)
                .calibration(Data.of(photos, p -> Map.of("input", p.gray())))
                .step("MinMaxQuantization", Map.of("preset", "mixed", "stat_subset_size", 40))
                .run();
        try {
            assertEquals(40, r.calibrationSamples());
            assertTrue(r.output().getFileName().toString().endsWith("-int8.onnx"), r.output().toString());
            assertNull(r.accuracy());
            assertTrue(r.outputBytes() < model.length / 2);

            BenchmarkResult b = ptq.benchmark(TestAssets.model("fmnist_cnn.onnx"), r.output()).batch(4).warmup(2).runs(5).inputs(Data.ofFloats(few)).run();
            assertEquals(2, b.models().size());
            assertEquals(1.0, b.models().get(0).speedup(), 1e-12);
            assertTrue(b.models().get(1).medianMillis() > 0);
        } finally {
            Files.deleteIfExists(r.output());
        }
    }
}
