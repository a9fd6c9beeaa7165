package org.ptq4j.plugins.quantization;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.run.HostContext;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * EfficientNet-style SiLU ({@code x * Sigmoid(x)}) and squeeze-excite gates between quantized convs run as
 * integer kernels (QLinearSigmoid, QLinearMul): left in float, each costs a DequantizeLinear, the float ops,
 * a QuantizeLinear and NHWC/NCHW transposes around them, which made EfficientNet-B0's INT8 model no faster
 * than FP32. Model: {@code tiny_effnet.onnx} (test resources; made by {@code tiny_effnet.py}, random weights).
 */
class SiluTest {
    static Model tiny() throws Exception {
        return OnnxIO.read(Path.of(SiluTest.class.getResource("/tiny_effnet.onnx").toURI()));
    }

    static Model quantize(Model fp32, Map<String, Object> params) {
        try (HostContext ctx = Fixtures.context(new Fixtures.TensorDataset("x", SpeedBenchmarkTest.synthetic(new long[]{3, 32, 32}, 200, 1)))) {
            return Fixtures.run(new MinMaxQuantization(), fp32, params, ctx);
        }
    }

    static double cosine(Model a, Model b, Tensor x) {
        try (Session sa = Fixtures.ENGINE.open(a, SessionOptions.defaults().withThreads(1));
             Session sb = Fixtures.ENGINE.open(b, SessionOptions.defaults().withThreads(1))) {
            float[] u = sa.run(Map.of("x", x)).get("logits").floats(), v = sb.run(Map.of("x", x)).get("logits").floats();
            double dot = 0, nu = 0, nv = 0;
            for (int i = 0; i < u.length; i++) { dot += u[i] * v[i]; nu += u[i] * u[i]; nv += v[i] * v[i]; }
            return dot / Math.sqrt(nu * nv);
        }
    }

    @Test
    void siluAndSqueezeExciteRunAsIntegerKernels() throws Exception {
        Model fp32 = tiny();
        Model q = quantize(fp32, Map.of());
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        System.out.println("tiny_effnet INT8 in ORT: " + ops);
        for (String op : List.of("Sigmoid", "Mul", "QuickGelu", "Conv", "DequantizeLinear"))
            assertFalse(ops.containsKey(op), "float " + op + " left in ORT's graph: " + ops);
        long sigmoids = fp32.graph().nodes().stream().filter(n -> n.opType().equals("Sigmoid")).count();
        assertEquals(sigmoids, (long) ops.getOrDefault("QLinearSigmoid", 0), ops.toString());
        assertEquals(sigmoids, (long) ops.getOrDefault("QLinearMul", 0), "every SiLU and SE gate Mul: " + ops);
        Tensor held = SpeedBenchmarkTest.synthetic(new long[]{3, 32, 32}, 64, 99);
        double c = cosine(fp32, q, held);
        System.out.printf("tiny_effnet logits cosine vs FP32 (64 held-out inputs): %.5f%n", c);
        assertTrue(c > 0.99, "cosine " + c);
    }

    @Test
    void ignoringSigmoidKeepsTheGatesFloat() throws Exception {
        Model q = quantize(tiny(), Map.of("ignored", Map.of("types", List.of("Sigmoid"))));
        Map<String, Integer> ops = Fixtures.optimizedOps(q);
        assertFalse(ops.containsKey("QLinearSigmoid"), ops.toString());
        assertTrue(ops.getOrDefault("QLinearConv", 0) > 0, ops.toString());
    }
}
