package org.ptq4j.plugins.quantization;

import org.ptq4j.spi.quant.Int16Pairs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The int16 pair saturation of x86 CPUs without VNNI, checked on any CPU: {@link Avx2Simulator} redoes
 * MLAS's AVX2 arithmetic on the uint8 inputs ONNX Runtime feeds each layer, {@link Int16Pairs#analyze}
 * bounds it for all inputs. The default target (ANY) must be clean under both; full 8-bit weights
 * (CPU_VNNI, yesterday's default) are not.
 */
class SaturationTest {
    private static final Map<String, Model> CACHE = new HashMap<>();

    private static synchronized Model quantized(String file, String target) {
        return CACHE.computeIfAbsent(file + "/" + target, k -> Fixtures.quantize(Fixtures.fmnist(file),
                target.isEmpty() ? Map.of() : Map.of("target_device", target)));
    }

    private static Tensor calib100() {
        return Fixtures.calibration().slice0(0, 100);
    }

    @Test
    void fullEightBitCnnSaturatesOnAvx2AndTheDefaultDoesNot() {
        Model full = quantized("fmnist_cnn.onnx", "CPU_VNNI");
        List<Avx2Simulator.LayerResult> sim = Avx2Simulator.run(full, calib100());
        sim.forEach(r -> System.out.println("8-bit fmnist_cnn, AVX2 simulation: " + r));
        long saturated = sim.stream().mapToLong(Avx2Simulator.LayerResult::saturated).sum();
        assertTrue(saturated > 0, "8-bit weights saturate int16 pair sums on real inputs: " + sim);
        Set<String> flagged = Int16Pairs.analyze(full).stream().filter(Int16Pairs.Finding::canSaturate).map(Int16Pairs.Finding::node).collect(Collectors.toSet());
        for (Avx2Simulator.LayerResult r : sim)
            if (r.saturated() > 0) assertTrue(flagged.contains(r.node()), r.node() + " saturates in the simulation but the static check missed it: " + flagged);
        assertFalse(flagged.isEmpty());

        Model dflt = quantized("fmnist_cnn.onnx", "");
        List<Avx2Simulator.LayerResult> clean = Avx2Simulator.run(dflt, calib100());
        assertEquals(4, clean.size(), "every layer simulated: " + clean);
        for (Avx2Simulator.LayerResult r : clean) assertEquals(0, r.saturated(), "default model saturates: " + r);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx"})
    void defaultWeightsCannotSaturateAndKeepTheEightBitAccuracy(String file) {
        Model dflt = quantized(file, "");
        for (Int16Pairs.Finding f : Int16Pairs.analyze(dflt))
            assertFalse(f.canSaturate(), file + ": " + f);
        for (Avx2Simulator.LayerResult r : Avx2Simulator.run(dflt, calib100()))
            assertEquals(0, r.saturated(), file + ": " + r);
        double fp32 = Fixtures.top1(Fixtures.fmnist(file)), def = Fixtures.top1(dflt), full = Fixtures.top1(quantized(file, "CPU_VNNI"));
        System.out.printf("%s 10k top-1 on %s: FP32 %.4f, default (ANY) %.4f, full 8-bit (CPU_VNNI) %.4f%n", file,
                org.ptq4j.spi.CpuInfo.host().describe(), fp32, def, full);
        // on a VNNI/AMX CPU the full grid is exact: the default may not lose more than 0.05 point against it;
        // on a CPU without VNNI the full grid saturates and the default must stay near FP32 (both hold on either)
        assertTrue(def >= full - 0.0005, file + ": default " + def + " vs full 8-bit " + full);
        assertTrue(def >= fp32 - 0.001, file + ": default " + def + " vs FP32 " + fp32);
    }

    /** The pairwise grid costs far less resolution than 7-bit weights everywhere (NNCF's overflow_fix: enable). */
    @Test
    void pairwiseGridKeepsMoreResolutionThanSevenBits() {
        Model fp32 = Fixtures.fmnist("fmnist_resnet.onnx");
        double pairwise = weightError(fp32, quantized("fmnist_resnet.onnx", "")), seven = weightError(fp32,
                Fixtures.quantize(fp32, Map.of("overflow_fix", "enable"))), full = weightError(fp32, quantized("fmnist_resnet.onnx", "CPU_VNNI"));
        System.out.printf("fmnist_resnet weight MSE: full 8-bit %.3g, pairwise %.3g, 7-bit %.3g%n", full, pairwise, seven);
        assertTrue(pairwise < 0.5 * seven, "pairwise " + pairwise + " vs 7-bit " + seven);
        assertTrue(pairwise >= full);
    }

    @Test
    void nncfOverflowFixValues() {
        Model seven = Fixtures.quantize(Fixtures.fmnist("fmnist_cnn.onnx"), Map.of("overflow_fix", "enable"));
        for (int[] r : weightRanges(seven).values()) assertTrue(r[0] >= -64 && r[1] <= 63, "7-bit weights: " + java.util.Arrays.toString(r));
        assertTrue(Fixtures.top1(seven) > 0.89);
        Model first = Fixtures.quantize(Fixtures.fmnist("fmnist_cnn.onnx"), Map.of("overflow_fix", "first_layer"));
        Map<String, int[]> ranges = weightRanges(first);
        String layer0 = MinMaxQuantization.quantizedLayers(first).get(0);
        ranges.forEach((layer, r) -> {
            if (layer.equals(layer0)) assertTrue(r[0] >= -64 && r[1] <= 63, layer);
            else assertTrue(r[1] > 100 || r[0] < -100, layer + " keeps full 8 bits: " + java.util.Arrays.toString(r));
        });
        assertTrue(Int16Pairs.analyze(first).stream().anyMatch(Int16Pairs.Finding::canSaturate), "first_layer leaves later layers saturating");
    }

    /** Mean squared error of the dequantized weights against the FP32 weights, over all quantized layers. */
    private static double weightError(Model fp32, Model q) {
        double err = 0;
        long n = 0;
        for (Node node : q.graph().nodes()) {
            Node dq = q.graph().producer(node.inputs().size() > 1 ? node.input(1) : "");
            if (dq == null || !dq.opType().equals("DequantizeLinear") || !MinMaxQuantization.quantizedLayers(q).contains(node.name())) continue;
            Tensor wq = q.graph().initializer(dq.input(0)).orElseThrow(), s = q.graph().initializer(dq.input(1)).orElseThrow();
            float[] w = fp32.graph().initializer(fp32.graph().node(node.name()).orElseThrow().input(1)).orElseThrow().floats();
            float[] sc = s.floats();
            long[] v = wq.longs();
            int per = v.length / sc.length;      // axis 0 (Conv, Gemm transB) in these models
            for (int i = 0; i < v.length; i++) {
                double d = w[i] - v[i] * sc[sc.length == 1 ? 0 : i / per];
                err += d * d;
                n++;
            }
        }
        return err / n;
    }

    private static Map<String, int[]> weightRanges(Model q) {
        Map<String, int[]> r = new HashMap<>();
        for (Node node : q.graph().nodes()) {
            if (!MinMaxQuantization.quantizedLayers(q).contains(node.name())) continue;
            Tensor t = q.graph().initializer(q.graph().producer(node.input(1)).input(0)).orElseThrow();
            if (t.dtype() != DType.INT8) continue;
            int lo = 0, hi = 0;
            for (long v : t.longs()) { lo = (int) Math.min(lo, v); hi = (int) Math.max(hi, v); }
            r.put(node.name(), new int[]{lo, hi});
        }
        return r;
    }
}
