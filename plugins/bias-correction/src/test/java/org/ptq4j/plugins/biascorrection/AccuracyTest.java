package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ptq4j.plugins.biascorrection.Fixtures.*;

/** On every shared fmnist model, correction costs at most 0.05 accuracy points (percent) on the 10k test split. */
class AccuracyTest {
    static Tensor images;
    static long[] labels;

    @BeforeAll
    static void load() {
        images = test10k();
        labels = labels10k();
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx"})
    void correctionDoesNotCostAccuracy(String file) {
        Run fast = quantizeAndCorrect(file, Map.of(), FastBiasCorrection.NAME, Map.of());
        Run full = quantizeAndCorrect(file, Map.of(), BiasCorrection.NAME, Map.of());
        double fp = accuracy(top1(fast.fp32(), images), labels);
        double q = accuracy(top1(fast.quantized(), images), labels);
        double f = accuracy(top1(fast.corrected(), images), labels);
        double b = accuracy(top1(full.corrected(), images), labels);
        System.out.printf("%s top-1 on 10k: fp32 %.4f, MinMax %.4f, +FastBiasCorrection %.4f, +BiasCorrection %.4f (%d / %d layers changed)%n",
                file, fp, q, f, b, BiasCorrectionTest.correctedLayers(fast).size(), BiasCorrectionTest.correctedLayers(full).size());
        assertTrue(f >= q - 0.0005, file + ": FastBiasCorrection " + q + " -> " + f);
        assertTrue(b >= q - 0.0005, file + ": BiasCorrection " + q + " -> " + b);
    }
}
