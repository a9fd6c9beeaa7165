package org.ptq4j.plugins.quantization;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** Cross-layer equalization on the shared models and on hard versions of them (outlier channels planted). */
class EqualizationTest {

    /** Largest |logit difference| relative to the largest |logit| on the 1k test images. */
    static double relDiff(Model a, Model b) {
        Tensor x = Fixtures.testImages().slice0(0, 1000);
        try (Session sa = Fixtures.ENGINE.open(a, SessionOptions.defaults().withThreads(1));
             Session sb = Fixtures.ENGINE.open(b, SessionOptions.defaults().withThreads(1))) {
            float[] u = sa.run(Map.of("input", x)).get("logits").floats(), v = sb.run(Map.of("input", x)).get("logits").floats();
            double d = 0, m = 0;
            for (int i = 0; i < u.length; i++) { d = Math.max(d, Math.abs(u[i] - v[i])); m = Math.max(m, Math.abs(u[i])); }
            return d / m;
        }
    }

    /** The largest (channel max / median channel max) of the given channels' activations on 100 calibration images. */
    static double activationSpread(Model m, Map<String, Set<Integer>> channels) {
        List<String> tensors = List.copyOf(channels.keySet());
        try (Session s = Fixtures.ENGINE.open(m, SessionOptions.defaults().withThreads(1).withExtraOutputs(tensors))) {
            Map<String, Tensor> out = s.run(Map.of("input", Fixtures.calibration().slice0(0, 100)), tensors);
            double worst = 1;
            for (String t : tensors) {
                Tensor a = out.get(t);
                int c = (int) a.dim(1);
                long per = a.numElements() / a.dim(0) / c;
                float[] v = a.floats();
                double[] mx = new double[c];
                for (int i = 0; i < v.length; i++) {
                    int ch = (int) ((i / per) % c);
                    mx[ch] = Math.max(mx[ch], v[i]);
                }
                double[] sorted = mx.clone();
                Arrays.sort(sorted);
                for (int ch : channels.get(t)) if (sorted[c / 2] > 0) worst = Math.max(worst, mx[ch] / sorted[c / 2]);
            }
            return worst;
        }
    }


    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx"})
    void equalizationIsExactAndUndoesPlantedOutliers(String file) {
        Model fp32 = Fixtures.fmnist(file);
        HardModels.Planted planted = HardModels.outlierChannels(fp32, 80, 2, 1);
        Model hard = planted.model();
        Map<String, Set<Integer>> between = planted.channels();
        assertFalse(between.isEmpty(), file + ": no equalizable pair");
        assertTrue(relDiff(fp32, hard) < 1e-4, "planting is function-preserving: " + relDiff(fp32, hard));
        Equalization.Result eq = Equalization.apply(hard, 20);
        double exact = relDiff(hard, eq.model());
        double before = activationSpread(hard, between), after = activationSpread(eq.model(), between), orig = activationSpread(fp32, between);
        double fp32Top1 = Fixtures.top1(fp32), plain = Fixtures.top1(Fixtures.quantize(hard, Map.of("cross_layer_equalization", false))), cle = Fixtures.top1(Fixtures.quantize(hard, Map.of()));
        double cleOrig = Fixtures.top1(Fixtures.quantize(fp32, Map.of("cross_layer_equalization", true))), dflt = Fixtures.top1(Fixtures.quantize(fp32, Map.of()));
        double noCle = Fixtures.top1(Fixtures.quantize(fp32, Map.of("cross_layer_equalization", false)));
        System.out.printf("%s: %d pairs, %d sweeps, rel. diff %.2g; planted channels' activation max / median channel: original %.1f, planted %.1f, equalized %.1f; weight spread %.1f -> %.1f;"
                        + " 10k top-1 FP32 %.4f, planted+MinMax without CLE %.4f, planted+MinMax (default: CLE auto) %.4f; original MinMax default %.4f, forced CLE %.4f%n",
                file, eq.pairs(), eq.iterations(), exact, orig, before, after, Equalization.apply(fp32, 20).worstBefore(), eq.worstBefore(), fp32Top1, plain, cle, dflt, cleOrig);
        assertTrue(exact < 1e-4, "equalization is exact in FP32: " + exact);
        assertTrue(after <= 4, "outlier channels back within 4x of the median channel: " + after);
        assertTrue(cle >= fp32Top1 - 0.003, "hard model, default quantization (CLE auto) loses at most 0.3 point: " + cle + " vs " + fp32Top1);
        assertEquals(noCle, dflt, 1e-12, "auto leaves the shared model as it was (no equalization, same accuracy)");
    }
}
