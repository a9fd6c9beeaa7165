package org.ptq4j.dist;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The written models on a CPU without VNNI, whatever CPU runs the tests: the distribution's own JVM and
 * ONNX Runtime run under QEMU's user-mode emulation of an Intel Haswell (AVX2, no AVX-512, no VNNI), so
 * MLAS picks its AVX2 u8s8 kernels with their saturating int16 pair sums, exactly as on an AVX2-only
 * EPYC or a pre-Cascade-Lake Xeon. Accuracy only: emulated timings mean nothing.
 * Needs {@code qemu-x86_64} (Debian package {@code qemu-user}, which {@code .ci/run} installs where it is needed) on an
 * x86-64 host; runs only where {@link NoVnni} cannot mask CPUID (no {@code cpuid_fault}), as {@link NoVnniTest}'s fallback.
 */
class EmulatedAvx2Test {
    static Path qemu;
    @TempDir Path tmp;

    @BeforeEach  // per test, so that a skip is reported with its reason
    void setUp() {
        DistributionTest.locate();
        String arch = System.getProperty("os.arch");
        assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "AVX2 emulation needs an x86-64 host, this is " + arch);
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, "qemu-x86_64");
            if (Files.isExecutable(p)) qemu = p;
        }
        assumeTrue(qemu != null, "qemu-x86_64 not on PATH (apt-get install qemu-user): cannot emulate a CPU without VNNI");
        assumeTrue(NoVnni.why() != null, "NoVnniTest runs the same checks and more natively with CPUID masked (real AVX2 kernels, not emulated)");
    }

    /** A JAVA_HOME whose java runs this JVM under an emulated Haswell. */
    private Path emulatedJavaHome() throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("haswell-java/bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\nexec " + qemu + " -cpu Haswell " + Path.of(System.getProperty("java.home"), "bin", "java") + " \"$@\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin.getParent();
    }

    @Test
    void defaultModelKeepsItsAccuracyWhereFullEightBitWeightsSaturate() throws Exception {
        Path ex = DistributionTest.exampleCopy(tmp);
        // quantized natively: the README's example pipeline (default target ANY), and full 8-bit weights for VNNI CPUs
        DistributionTest.Run q = DistributionTest.ptq("quantize", "-c", ex.resolve("pipeline.yaml").toString());
        assertEquals(0, q.code(), q.toString());
        Path dflt = ex.resolve("out/fmnist_cnn_int8.onnx"), vnni = ex.resolve("out/vnni.onnx");
        DistributionTest.Run v = DistributionTest.ptq("quantize", "--model", ex.resolve("fmnist_cnn.onnx").toString(), "--data", ex.resolve("calib-300.npy").toString(),
                "--output", vnni.toString(), "--target-device", "CPU_VNNI");
        assertEquals(0, v.code(), v.toString());
        assertTrue(v.out().contains("layers can saturate on x86 CPUs without VNNI"), v.out());

        DistributionTest.Run e = DistributionTest.ptq(Map.of("JAVA_HOME", emulatedJavaHome().toString(), "PTQ_JAVA_OPTS", "-Xmx1g -XX:TieredStopAtLevel=1"),
                "evaluate", "--model", ex.resolve("fmnist_cnn.onnx").toString(), "--model", dflt.toString(), "--model", vnni.toString(),
                "--data", ex.resolve("test-1k.npy").toString(), "--labels", ex.resolve("test-1k-labels.npy").toString(), "--metric", "accuracy", "--json");
        assertEquals(0, e.code(), e.toString());
        JsonNode rows = DistributionTest.JSON.readTree(e.out()).get("results");
        double fp32 = rows.get(0).get("accuracy").asDouble(), def = rows.get(1).get("accuracy").asDouble(), full = rows.get(2).get("accuracy").asDouble();
        System.out.printf("emulated Haswell (AVX2, no VNNI), README example, 1k test: FP32 %.4f, default %.4f, full 8-bit %.4f%n", fp32, def, full);
        assertTrue(full < fp32 - 0.01, "the emulated CPU saturates full 8-bit weights (else this test proves nothing): " + full + " vs " + fp32);
        assertTrue(def >= fp32 - 0.003, "default model on a CPU without VNNI: " + def + " vs FP32 " + fp32);
    }
}
