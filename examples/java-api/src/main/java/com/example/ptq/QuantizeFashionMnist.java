package com.example.ptq;

import org.ptq4j.api.Data;
import org.ptq4j.api.Ptq;
import org.ptq4j.api.QuantizationResult;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Quantizes the Fashion-MNIST CNN to INT8 from images the application holds in memory, and prints
 * FP32 vs INT8 accuracy. Arguments: the folder with the model and data (default ../fmnist), the output.
 */
public final class QuantizeFashionMnist {
    /** The application's own sample type: a normalized 1x28x28 image and its class. */
    record Image(float[] pixels, long label) {}

    public static void main(String[] args) {
        Path dir = Path.of(args.length > 0 ? args[0] : "../fmnist");
        Path output = Path.of(args.length > 1 ? args[1] : "target/fmnist_cnn_int8.onnx");
        List<Image> calibration = load(dir.resolve("calib-300.npy"), null);
        List<Image> test = load(dir.resolve("test-1k.npy"), dir.resolve("test-1k-labels.npy"));

        // --- the quantize call and the datasets ---
        try (Ptq ptq = Ptq.create()) {
            QuantizationResult r = ptq.quantize(dir.resolve("fmnist_cnn.onnx"))
                    .calibration(Data.ofFloats(calibration, Image::pixels))
                    .validation(Data.ofFloats(test, Image::pixels).labels(Image::label))
                    .output(output)
                    .run();
            QuantizationResult.Accuracy a = r.accuracy();
            System.out.printf("FP32 accuracy %.4f, INT8 accuracy %.4f (%+.4f) on %d images; %s (%d KB -> %d KB)%n",
                    a.fp32(), a.quantized(), a.delta(), a.samples(), r.output(), r.inputBytes() / 1024, r.outputBytes() / 1024);
        }
        // ---
    }

    /** Stands in for the application's own data source: rows of an .npy file (and their labels). */
    static List<Image> load(Path images, Path labels) {
        Tensor x = Npy.read(images);
        long[] y = labels == null ? null : Npy.read(labels).longs();
        List<Image> r = new ArrayList<>();
        for (int i = 0; i < x.dim(0); i++) r.add(new Image(x.slice0(i, i + 1).floats(), y == null ? -1 : y[i]));
        return r;
    }
}
