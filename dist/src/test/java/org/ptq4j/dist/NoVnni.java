package org.ptq4j.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs the distribution natively as if this x86 CPU had AVX2 but no AVX-512, VNNI or AMX: {@code src/test/native/novnni.c},
 * preloaded, makes CPUID fault (Linux ARCH_SET_CPUID, CPU flag {@code cpuid_fault}) and answers it without those
 * feature bits, so ONNX Runtime's MLAS selects its AVX2 kernels (vpmaddubsw, saturating int16 pair sums) and the JVM
 * its AVX2 code, at native speed. {@code ptq} is pointed at a copy of /proc/cpuinfo without those flags so it reports
 * the same CPU. {@link #why()} is null when this works here, else the reason it does not.
 */
final class NoVnni {
    private static String why;
    private static Path lib, cpuinfo;
    private static boolean probed;

    private NoVnni() {}

    static synchronized String why() {
        if (!probed) {
            probed = true;
            try {
                why = probe();
            } catch (IOException | InterruptedException e) {
                why = "could not build or load the CPUID mask: " + e;
            }
        }
        return why;
    }

    /** Environment for {@link DistributionTest#ptq(Map, String...)}: the process runs with the CPUID mask. */
    static Map<String, String> env() {
        if (why() != null) throw new IllegalStateException(why);
        return Map.of("LD_PRELOAD", lib.toString(), "NOVNNI_QUIET", "1", "NOVNNI_STRICT", "1",
                "PTQ_JAVA_OPTS", "-Xmx1g -Dptq.cpuinfo=" + cpuinfo);
    }

    private static String probe() throws IOException, InterruptedException {
        String arch = System.getProperty("os.arch");
        if (!arch.equals("amd64") && !arch.equals("x86_64")) return "masking x86 CPU features needs an x86-64 host, this is " + arch;
        Path proc = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(proc)) return "no /proc/cpuinfo (not Linux)";
        String info = Files.readString(proc);
        if (!Pattern.compile("\\bcpuid_fault\\b").matcher(info).find())
            return "this CPU or hypervisor cannot make CPUID fault (no 'cpuid_fault' in /proc/cpuinfo)";
        if (!Pattern.compile("\\bavx2\\b").matcher(info).find()) return "this CPU has no AVX2";
        Path dir = Files.createDirectories(Path.of(System.getProperty("ptq.dist.dir")).getParent().resolve("novnni"));
        lib = dir.resolve("novnni.so");
        Path src = Path.of(System.getProperty("ptq.novnni.src", "src/test/native/novnni.c")).toAbsolutePath();
        ProcessBuilder ccb = new ProcessBuilder("cc", "-O2", "-shared", "-fPIC", "-o", lib.toString(), src.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("cc.log").toFile());
        ccb.environment().remove("LD_PRELOAD");
        Process cc = ccb.start();
        if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0)
            return "cannot compile " + src + " with cc (install gcc): " + Files.readString(dir.resolve("cc.log"));
        cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(cpuinfo, info.replaceAll(" (avx512\\w*|amx\\w*|avx_vnni\\w*)", ""));
        DistributionTest.Run r = DistributionTest.ptq(Map.of("LD_PRELOAD", lib.toString(), "NOVNNI_STRICT", "1", "NOVNNI_QUIET", "1",
                "PTQ_JAVA_OPTS", "-Xmx256m -XX:+PrintFlagsFinal -Dptq.cpuinfo=" + cpuinfo), "system");
        if (r.code() == 97) return "the kernel refused ARCH_SET_CPUID: " + r.err().strip();
        if (r.code() != 0) return "ptq system under the CPUID mask failed: " + r;
        // the JVM's own CPUID probe proves the mask reaches code that reads CPUID directly
        if (!Pattern.compile("UseAVX\\s+= 2\\b").matcher(r.out()).find()) return "the JVM still sees AVX-512 under the mask: " + List.of(r.out().lines().filter(l -> l.contains("UseAVX ")).toList());
        return null;
    }
}
