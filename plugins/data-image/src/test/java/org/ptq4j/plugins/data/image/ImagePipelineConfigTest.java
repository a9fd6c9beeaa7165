package org.ptq4j.plugins.data.image;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.ConfigException;
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

/** The image dataset's parameters as a user writes them in a pipeline YAML, through the host's validator. */
class ImagePipelineConfigTest {
    static final String YAML = """
            model: %s
            output: out.onnx
            datasets:
              validation:
                type: image_folder
                path: %s
                labels_file: %s
                resize: [28, 28]
                crop: 28
                color: %s
                layout: NCHW
                scale: 0.00392156862745098
                mean: 0.2860
                std: [0.3530]
            metric: {type: accuracy}
            pipeline:
              - algorithm: AddMetadata
                params: {key: k}
            """;

    static Path write(Path tmp, String color) throws Exception {
        Path png = TestAssets.data("fmnist-png");
        Path f = tmp.resolve("pipeline.yaml");
        Files.writeString(f, YAML.formatted(TestAssets.model("fmnist_cnn.onnx"), png, png.resolve("labels.txt"), color));
        return f;
    }

    @Test
    void yamlParametersOpenTheDataset(@TempDir Path tmp) throws Exception {
        Registry registry = Registry.fromClasspath().add(new TestExtensions.AddMetadata(), "test");
        PipelineConfig cfg = new PipelineConfigLoader(registry).load(write(tmp, "GRAY"));
        List<ValueInfo> inputs = ImageFolderDatasetTest.CNN.graph().feedInputs();
        DatasetContext ctx = new DatasetContext() {
            @Override public List<ValueInfo> modelInputs() { return inputs; }
            @Override public Path baseDir() { return cfg.baseDir(); }
        };
        var val = cfg.datasets().get("validation");
        try (Dataset ds = val.factory().open(val.params(), ctx);
             Dataset reference = ImageFolderDatasetTest.open(ImageFolderDatasetTest.fmnist(), inputs)) {
            assertEquals(200, ds.size());
            var s = ds.get(0);
            assertEquals("9_Ankle_boot/00000.png", s.id());
            assertEquals(9, s.annotation().longs()[0]);
            for (int i = 0; i < reference.size(); i++)
                if (reference.get(i).id().equals(s.id()))
                    assertArrayEquals(reference.get(i).inputs().get("input").floats(), s.inputs().get("input").floats());
        }
        var e = assertThrows(ConfigException.class, () -> new PipelineConfigLoader(registry).load(write(tmp, "CMYK")));
        assertTrue(e.getMessage().contains("color") && e.getMessage().contains("CMYK"), e.getMessage());
    }
}
