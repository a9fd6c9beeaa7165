package org.ptq4j.host.onnx;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.model.Model;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model sizes count external data (a 2.4 GB external-data model is not "2.3 KB"). */
class ModelFilesTest {
    @Test
    void sizeIncludesExternalData(@TempDir Path dir) throws Exception {
        Model m = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx"));
        Path inline = dir.resolve("inline.onnx"), external = dir.resolve("ext/external.onnx");
        OnnxIO.write(m, inline);
        OnnxIO.write(m, external, 0);          // every weight as external data
        long data;
        try (var s = Files.list(external.getParent())) {
            data = s.filter(p -> !p.equals(external)).mapToLong(p -> p.toFile().length()).sum();
        }
        assertTrue(data > 300_000, "weights are external: " + data);
        assertTrue(Files.size(external) < 20_000, "the .onnx file alone is small: " + Files.size(external));
        assertEquals(Files.size(external) + data, ModelFiles.bytes(external));
        assertEquals(Files.size(inline), ModelFiles.bytes(inline));
        assertEquals(0, ModelFiles.bytes(dir.resolve("missing.onnx")));
    }
}
