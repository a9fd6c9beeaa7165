package org.ptq4j.host.testing;

import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shared models and data (../shared next to the repository; system property
 * {@code ptq.shared.dir} or environment variable {@code PTQ_SHARED_DIR} override).
 */
public final class TestAssets {
    private TestAssets() {}

    public static Path shared() {
        String p = System.getProperty("ptq.shared.dir");
        if (p == null || p.isBlank()) p = System.getenv("PTQ_SHARED_DIR");
        Path dir = p != null && !p.isBlank() ? Path.of(p) : null;
        if (dir == null || !Files.isDirectory(dir)) {
            // walk up from the working directory looking for a sibling 'shared' folder
            for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
                Path s = d.resolveSibling("shared");
                if (Files.isDirectory(s.resolve("models"))) { dir = s; break; }
            }
        }
        if (dir == null || !Files.isDirectory(dir)) throw new IllegalStateException("shared assets not found; set -Dptq.shared.dir");
        return dir.toAbsolutePath().normalize();
    }

    public static Path model(String file) { return shared().resolve("models").resolve(file); }

    public static Path data(String file) { return shared().resolve("data").resolve(file); }

    public static Tensor npy(String dataFile) { return Npy.read(data(dataFile)); }

    /**
     * Copies fmnist_cnn and its data into {@code dir} under short names: {@code model.onnx}, {@code calib.npy}
     * (300 calibration images), {@code test.npy} and {@code labels.npy} (1k test images).
     */
    public static void copyFmnistCnn(Path dir) throws java.io.IOException {
        Files.copy(model("fmnist_cnn.onnx"), dir.resolve("model.onnx"));
        Files.copy(data("fmnist-calib-300.npy"), dir.resolve("calib.npy"));
        Files.copy(data("fmnist-test-1k.npy"), dir.resolve("test.npy"));
        Files.copy(data("fmnist-test-1k-labels.npy"), dir.resolve("labels.npy"));
    }
}
