package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.quant.QuantizedLayer;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The spi's quantized-layer view: read a layer's int8 grid, replace it, keep ORT's integer kernels. */
class QuantizedLayerViewTest {
    static float[] logits(Model m) {
        try (Session s = Fixtures.ENGINE.open(m, SessionOptions.defaults().withThreads(1))) {
            return s.run(Map.of("input", Fixtures.testImages().slice0(0, 200))).get("logits").floats();
        }
    }

    @Test
    void readReplaceAndKeepTheIntegerKernels() throws Exception {
        // 6-bit weights (|q| <= 31), so the same real values fit a grid twice as fine: q' = 2q, s' = s/2; even there no
        // pair of adjacent products reaches int16 saturation on x86 CPUs without VNNI (|2q_a| + |2q_b| <= 124): exact on every CPU
        Model q = Fixtures.quantize(Fixtures.fmnist("fmnist_cnn.onnx"), Map.of("weights", Map.of("bits", 6), "target_device", "CPU_VNNI"));
        Model fp32 = Fixtures.fmnist("fmnist_cnn.onnx");
        float[] before = logits(q);
        for (String name : MinMaxQuantization.quantizedLayers(q)) {
            QuantizedLayer l = QuantizedLayer.of(q, name).orElseThrow();
            assertEquals(0, l.axis(), name + ": per output channel");
            assertNotNull(l.bias(), name + ": int32 bias");
            float[] w = fp32.graph().initializer(fp32.graph().node(name).orElseThrow().input(1)).orElseThrow().floats(), d = l.dequantized();
            int per = w.length / l.scales().length;
            for (int i = 0; i < w.length; i++) assertEquals(w[i], d[i], l.scales()[i / per] / 2 + 1e-7, name + "[" + i + "]");
            byte[] doubled = new byte[l.weights().length];
            for (int i = 0; i < doubled.length; i++) doubled[i] = (byte) (2 * l.weights()[i]);
            float[] half = l.scales().clone();
            for (int c = 0; c < half.length; c++) half[c] /= 2;
            l.replace(q, doubled, half);
            QuantizedLayer again = QuantizedLayer.of(q, name).orElseThrow();
            assertArrayEquals(doubled, again.weights());
            for (int c = 0; c < l.bias().length; c++) assertEquals(2L * l.bias()[c], again.bias()[c], name + " bias rescaled exactly");
        }
        float[] after = logits(q);
        double maxDiff = 0;
        for (int i = 0; i < before.length; i++) maxDiff = Math.max(maxDiff, Math.abs(before[i] - after[i]));
        System.out.println("same real weights on a finer grid: max logit difference " + maxDiff);
        assertTrue(maxDiff < 1e-4, "the function is unchanged: " + maxDiff);
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        assertEquals(3, ops.getOrDefault("QLinearConv", 0), ops.toString());
        assertEquals(1, ops.getOrDefault("QGemm", 0), ops.toString());
        assertFalse(ops.containsKey("Conv") || ops.containsKey("Gemm"), ops.toString());
        assertThrows(org.ptq4j.spi.PtqException.class, () -> QuantizedLayer.of(q, "/fc/Gemm").orElseThrow().replace(q, new byte[3], new float[10]));
        assertTrue(QuantizedLayer.of(fp32, "/fc/Gemm").isEmpty(), "an FP32 layer has no quantized view");
    }
}
