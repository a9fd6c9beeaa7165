package org.ptq4j.dist;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.testing.TestAssets;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The README's promises on a CPU without VNNI, on whatever x86 CPU runs the tests: every {@code ptq} here runs with
 * CPUID masked to AVX2 without AVX-512/VNNI/AMX ({@link NoVnni}), so ONNX Runtime computes with its AVX2 u8s8
 * kernels (int16 pair sums that saturate), natively. Accuracy only: the speed of AVX2 code on a CPU that has VNNI
 * is not the speed of a CPU without it. Skipped, with the reason, where CPUID cannot be masked (then
 * {@link EmulatedAvx2Test} runs the README example under QEMU instead).
 */
class NoVnniTest {
    @TempDir Path tmp;

    @BeforeEach  // per test, so that a skip is reported with its reason
    void setUp() {
        DistributionTest.locate();
        assumeTrue(NoVnni.why() == null, NoVnni.why());
    }

    @Test
    void readmeExampleKeepsItsAccuracyWhereFullEightBitWeightsSaturate() throws Exception {
        Path ex = DistributionTest.exampleCopy(tmp);
        // the README's first command, as a user without VNNI runs it
        DistributionTest.Run q = DistributionTest.ptq(NoVnni.env(), "quantize", "-c", ex.resolve("pipeline.yaml").toString(), "--json");
        assertEquals(0, q.code(), q.toString());
        JsonNode report = DistributionTest.JSON.readTree(q.out());
        double fp32 = report.at("/summary/metric/fp32").asDouble(), def = report.at("/summary/metric/int8").asDouble();
        assertTrue(report.at("/summary/cpu/int8_saturates").asBoolean(false), "ptq sees the masked CPU: " + report.at("/summary/cpu"));
        // full 8-bit weights (what a VNNI target gets) on the same CPU: they must saturate here, else this test proves nothing
        Files.writeString(ex.resolve("full8.yaml"), Files.readString(ex.resolve("pipeline.yaml"))
                .replace("out/fmnist_cnn_int8.onnx", "out/full8.onnx").replace("stat_subset_size: 300}", "stat_subset_size: 300, target_device: CPU_VNNI}"));
        DistributionTest.Run v = DistributionTest.ptq(NoVnni.env(), "quantize", "-c", ex.resolve("full8.yaml").toString(), "--json");
        assertEquals(0, v.code(), v.toString());
        double full = DistributionTest.JSON.readTree(v.out()).at("/summary/metric/int8").asDouble();
        System.out.printf("CPUID masked to AVX2 (ORT's AVX2 kernels), README example, 1k test: FP32 %.4f, default %.4f, full 8-bit %.4f%n", fp32, def, full);
        assertTrue(full < fp32 - 0.01, "full 8-bit weights saturate on AVX2 kernels: " + full + " vs FP32 " + fp32);
        assertTrue(def >= fp32 - 0.003, "README example, default model on AVX2 kernels: " + def + " vs FP32 " + fp32 + "\n" + q.err());
    }

    /** {@code --target-device HOST} on this CPU: the saturation-safe grid, the model timed here, and its accuracy. */
    @Test
    void hostTargetTimesTheModelOnTheAvx2KernelsAndKeepsTheAccuracy() throws Exception {
        Path ex = DistributionTest.exampleCopy(tmp);
        Path out = ex.resolve("host.onnx");
        DistributionTest.Run q = DistributionTest.ptq(NoVnni.env(), "quantize", "--model", ex.resolve("fmnist_cnn.onnx").toString(),
                "--data", ex.resolve("calib-300.npy").toString(), "--output", out.toString(), "--target-device", "HOST", "--json");
        assertEquals(0, q.code(), q.toString());
        JsonNode sections = DistributionTest.JSON.readTree(q.out()).get("sections");
        JsonNode speed = sections.get("DefaultQuantization speed check");
        assertNotNull(speed, "HOST times the model here: " + sections);
        assertTrue(speed.get("speed_check_by_layer_group").size() >= 3, speed.toString());
        assertTrue(speed.get("speed_on_this_cpu").asText().contains("no VNNI"), speed.toString());
        assertEquals("none possible", sections.get("DefaultQuantization").get("int16_saturation_x86_without_vnni").asText(),
                "HOST on a CPU without VNNI takes the grid that cannot saturate: " + sections.get("DefaultQuantization"));
        DistributionTest.Run e = DistributionTest.ptq(NoVnni.env(), "evaluate", "--json", "--model", ex.resolve("fmnist_cnn.onnx").toString(),
                "--model", out.toString(), "--data", ex.resolve("test-1k.npy").toString(), "--labels", ex.resolve("test-1k-labels.npy").toString());
        assertEquals(0, e.code(), e.toString());
        JsonNode rows = DistributionTest.JSON.readTree(e.out()).get("results");
        double fp32 = rows.get(0).get("accuracy").asDouble(), host = rows.get(1).get("accuracy").asDouble();
        System.out.printf("CPUID masked to AVX2, README example with --target-device HOST: FP32 %.4f, INT8 %.4f; %s%n", fp32, host, speed.get("speed_on_this_cpu").asText());
        assertTrue(host >= fp32 - 0.003, "HOST model on AVX2 kernels: " + host + " vs FP32 " + fp32);
    }

    @Test
    void defaultQuantizationStaysWithinATenthOfAPointOnTheTenThousandTestImages() throws Exception {
        List<String> models = List.of("fmnist_cnn", "fmnist_resnet", "fmnist_mlp", "fmnist_mlp_matmul");
        List<String> evaluate = new ArrayList<>(List.of("evaluate", "--json", "--threads", "2", "--batch-size", "250",
                "--data", TestAssets.data("fmnist-test-10k-u8.npy").toString(), "--labels", TestAssets.data("fmnist-test-10k-labels.npy").toString(),
                "--data-param", "dtype=float32", "--data-param", "scale=0.00392156862745098", "--data-param", "mean=[0.2860]", "--data-param", "std=[0.3530]"));
        for (String m : models) {
            Path out = tmp.resolve(m + "_int8.onnx");
            DistributionTest.Run q = DistributionTest.ptq(NoVnni.env(), "quantize", "--model", TestAssets.model(m + ".onnx").toString(),
                    "--data", TestAssets.data("fmnist-calib-300.npy").toString(), "--output", out.toString());
            assertEquals(0, q.code(), q.toString());
            assertTrue(q.out().contains("int16 saturation (x86 without VNNI): none possible"), q.out());
            evaluate.addAll(List.of("--model", TestAssets.model(m + ".onnx").toString(), "--model", out.toString()));
        }
        DistributionTest.Run e = DistributionTest.ptq(NoVnni.env(), evaluate.toArray(String[]::new));
        assertEquals(0, e.code(), e.toString());
        JsonNode rows = DistributionTest.JSON.readTree(e.out()).get("results");
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            double fp32 = rows.get(2 * i).get("accuracy").asDouble(), int8 = rows.get(2 * i + 1).get("accuracy").asDouble();
            System.out.printf("CPUID masked to AVX2 (ORT's AVX2 kernels), %s, 10k test, DefaultQuantization: FP32 %.4f, INT8 %.4f%n", models.get(i), fp32, int8);
            if (int8 < fp32 - 0.001) failures.add(models.get(i) + ": INT8 " + int8 + " vs FP32 " + fp32);
        }
        assertTrue(failures.isEmpty(), "more than 0.1 point lost on AVX2 kernels: " + failures);
    }
}
