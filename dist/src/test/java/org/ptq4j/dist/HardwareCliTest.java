package org.ptq4j.dist;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The CPU as the distribution sees it: `ptq system`, target HOST on another machine's cpuinfo, bad names and unreadable files. */
class HardwareCliTest {
    @TempDir Path tmp;

    @BeforeAll
    static void locate() { DistributionTest.locate(); }

    private Path example(String f) { return DistributionTest.home.resolve("examples/fmnist").resolve(f); }

    @Test
    void systemReportsThisCpu() throws Exception {
        DistributionTest.Run r = DistributionTest.ptq("system", "--json");
        assertEquals(0, r.code(), r.toString());
        JsonNode cpu = DistributionTest.JSON.readTree(r.out()).get("cpu");
        assertTrue(cpu.get("int8_path").asText().matches("X86_VNNI|X86_NO_VNNI|ARM_DOT|ARM_NO_DOT|UNKNOWN"), r.out());
        DistributionTest.Run v = DistributionTest.ptq("--version");
        assertTrue(v.out().contains("CPU "), v.out());
    }

    @Test
    void hostTargetOnACpuWithoutVnniGetsTheSafeGridAndTheSpeedNote() throws Exception {
        Path cpuinfo = tmp.resolve("cpuinfo-epyc-zen2");
        Files.writeString(cpuinfo, "processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse sse2 avx avx2 fma\n");
        Path out = tmp.resolve("host.onnx");
        DistributionTest.Run r = DistributionTest.ptq(Map.of("PTQ_JAVA_OPTS", "-Xmx1g -Dptq.cpuinfo=" + cpuinfo),
                "quantize", "--model", example("fmnist_cnn.onnx").toString(), "--data", example("calib-300.npy").toString(),
                "--output", out.toString(), "--target-device", "host");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("target: HOST (this CPU: X86_NO_VNNI), overflow_fix pairwise"), r.out());
        assertTrue(r.out().contains("int16 saturation (x86 without VNNI): none possible"), r.out());
        assertTrue(r.out().contains("INT8 runs at about FP32 speed on this CPU (no VNNI/AMX: AMD EPYC 7B12); the model is 3."), r.out());

        DistributionTest.Run b = DistributionTest.ptq(Map.of("PTQ_JAVA_OPTS", "-Xmx1g -Dptq.cpuinfo=" + cpuinfo),
                "benchmark", "--model", example("fmnist_cnn.onnx").toString(), "--model", out.toString(), "--runs", "3", "--warmup", "1");
        assertEquals(0, b.code(), b.toString());
        assertTrue(b.out().contains("note: INT8 runs at about FP32 speed on this CPU"), b.out());
    }

    @Test
    void unreadableCpuinfoIsUnknownNotACrash() throws Exception {
        Path garbage = tmp.resolve("garbage");
        Files.write(garbage, new byte[]{0, 1, 2, (byte) 0xff, ':', '\n'});
        for (Path p : new Path[]{garbage, tmp.resolve("missing"), tmp}) {
            DistributionTest.Run r = DistributionTest.ptq(Map.of("PTQ_JAVA_OPTS", "-Xmx1g -Dptq.cpuinfo=" + p), "system");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("int8 path: UNKNOWN"), r.out());
        }
    }

    @Test
    void unknownTargetListsTheValidOnes() throws Exception {
        Path out = tmp.resolve("x.onnx");
        DistributionTest.Run r = DistributionTest.ptq("quantize", "--model", example("fmnist_cnn.onnx").toString(), "--data", example("calib-300.npy").toString(),
                "--output", out.toString(), "--target-device", "TPU");
        assertEquals(2, r.code(), r.toString());
        for (String t : new String[]{"target_device", "'TPU'", "ANY", "CPU_VNNI", "CPU_NO_VNNI", "HOST"}) assertTrue(r.err().contains(t), r.err());
        assertFalse(Files.exists(out));
    }
}
