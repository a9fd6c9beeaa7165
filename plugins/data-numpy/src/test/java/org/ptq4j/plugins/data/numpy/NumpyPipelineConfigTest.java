package org.ptq4j.plugins.data.numpy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.plugins.TestExtensions;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.DatasetContext;
import org.ptq4j.spi.model.ValueInfo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The dataset's parameters as a user writes them in a pipeline YAML, through the host's validator. */
class NumpyPipelineConfigTest {
    static PipelineConfig load(Path yaml) {
        Registry registry = Registry.fromClasspath().add(new TestExtensions.AddMetadata(), "test");
        return new PipelineConfigLoader(registry).load(yaml);
    }

    /** What the runner gives a dataset factory for the CNN. */
    static DatasetContext context(PipelineConfig cfg) {
        List<ValueInfo> inputs = NumpyDatasetTest.CNN.graph().feedInputs();
        return new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return cfg.baseDir(); }
        };
    }

    @Test
    void yamlParametersOpenTheDataset(@TempDir Path tmp) throws Exception {
        Path data = TestAssets.shared().resolve("data");
        Files.writeString(tmp.resolve("pipeline.yaml"), """
                model: %s
                output: out.onnx
                datasets:
                  calibration: {type: numpy, path: {input: %s}, scale: 0.00392156862745098, mean: 0.2860, std: [0.3530]}
                  validation:
                    type: numpy
                    path: %s
                    labels: %s
                    dtype: float32
                pipeline:
                  - algorithm: AddMetadata
                    params: {key: k}
                """.formatted(TestAssets.model("fmnist_cnn.onnx"), data.resolve("fmnist-calib-300-u8.npy"),
                data.resolve("fmnist-test-1k.npy"), data.resolve("fmnist-test-1k-labels.npy")));
        PipelineConfig cfg = load(tmp.resolve("pipeline.yaml"));
        DatasetContext ctx = context(cfg);
        var calib = cfg.datasets().get("calibration");
        try (Dataset ds = calib.factory().open(calib.params(), ctx)) {
            assertEquals(300, ds.size());
            assertArrayEquals(TestAssets.npy("fmnist-calib-300.npy").slice0(5, 6).floats(), ds.get(5).inputs().get("input").floats(), 1e-5f);
        }
        var val = cfg.datasets().get("validation");
        try (Dataset ds = val.factory().open(val.params(), ctx)) {
            assertEquals(1000, ds.size());
            assertTrue(ds.annotated());
            assertEquals(TestAssets.npy("fmnist-test-1k-labels.npy").longs()[999], ds.get(999).annotation().longs()[0]);
        }
    }

    @Test
    void everyDatasetAcceptsSubsetSizeSeedAndShuffle(@TempDir Path tmp) throws Exception {
        Path data = TestAssets.shared().resolve("data");
        Files.writeString(tmp.resolve("pipeline.yaml"), """
                model: %s
                output: out.onnx
                datasets:
                  calibration: {type: numpy, path: %s, subset_size: 50, shuffle: true, seed: 3}
                  validation: {type: numpy, path: %s, labels: %s, subset_size: 20}
                pipeline:
                  - algorithm: AddMetadata
                    params: {key: k}
                """.formatted(TestAssets.model("fmnist_cnn.onnx"), data.resolve("fmnist-calib-300.npy"),
                data.resolve("fmnist-test-1k.npy"), data.resolve("fmnist-test-1k-labels.npy")));
        PipelineConfig cfg = load(tmp.resolve("pipeline.yaml"));
        DatasetContext ctx = context(cfg);
        int[] expected = org.ptq4j.host.run.HostContext.subsetOf(300, 50, 3, true);
        try (Dataset ds = org.ptq4j.host.pipeline.DatasetSelection.open(cfg.datasets().get("calibration"), ctx)) {
            assertEquals(50, ds.size());
            assertNotEquals(0, expected[49] - 49, "a shuffled choice is not the first 50");
            assertArrayEquals(TestAssets.npy("fmnist-calib-300.npy").slice0(expected[7], expected[7] + 1).floats(), ds.get(7).inputs().get("input").floats());
        }
        try (Dataset ds = org.ptq4j.host.pipeline.DatasetSelection.open(cfg.datasets().get("validation"), ctx)) {
            assertEquals(20, ds.size());
            assertEquals(TestAssets.npy("fmnist-test-1k-labels.npy").longs()[19], ds.get(19).annotation().longs()[0]);
        }
    }

    @Test
    void validateListsEveryProblemAtOnceIncludingMissingDataFilesWithKeyAndLine(@TempDir Path tmp) throws Exception {
        Path data = TestAssets.shared().resolve("data");
        Path yaml = tmp.resolve("pipeline.yaml");
        Files.writeString(yaml, """
                model: %s
                datasets:
                  calibration: {type: numpy, path: missing-calib.npy, scale: 2}
                  validation:
                    type: numpy
                    path: {input: missing-test.npy}
                    labels: %s
                    sclae: 1
                pipeline:
                  - algorithm: AddMetadata
                    params: {key: k}
                """.formatted(TestAssets.model("fmnist_cnn.onnx"), data.resolve("fmnist-test-1k-labels.npy")));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(), err = new java.io.ByteArrayOutputStream();
        int code = org.ptq4j.host.cli.Main.run(new String[]{"validate", "-c", yaml.toString()},
                new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8), new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8),
                k -> null, dirs -> new org.ptq4j.host.plugins.PluginLoader.Result(
                        Registry.fromClasspath().add(new TestExtensions.AddMetadata(), "test"), List.of(), List.of(), null));
        assertEquals(2, code);
        assertEquals("error: " + yaml + ": 4 errors\n"
                + "  datasets.calibration.path (line 3): file not found: " + tmp.resolve("missing-calib.npy") + " ('missing-calib.npy' relative to " + tmp + ")\n"
                + "  datasets.validation.path.input (line 6): file not found: " + tmp.resolve("missing-test.npy") + " ('missing-test.npy' relative to " + tmp + ")\n"
                + "  datasets.validation.sclae (line 8): unknown key 'sclae'; did you mean 'scale'?\n"
                + "  output: missing required key: a file path (where the quantized model is written)\n",
                err.toString(java.nio.charset.StandardCharsets.UTF_8));
    }
}
