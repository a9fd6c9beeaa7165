package org.ptq4j.spi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** CPU int8 detection from cpuinfo text of the machines ptq4j meets; unreadable input is "unknown", never an exception. */
class CpuInfoTest {
    private static String x86(String model, String flags) {
        return "processor\t: 0\nvendor_id\t: X\nmodel name\t: " + model + "\nflags\t\t: fpu sse sse2 " + flags + "\n\nprocessor\t: 1\nflags\t\t: fpu\n";
    }

    @Test
    void x86Kinds() {
        CpuInfo epyc = CpuInfo.parse(x86("AMD EPYC 7B12", "avx avx2 fma"), "amd64", "t");
        assertEquals(CpuInfo.Int8Path.X86_NO_VNNI, epyc.path());
        assertEquals(Set.of("avx2"), epyc.features());
        assertTrue(epyc.path().saturates() && !epyc.path().fast());
        assertTrue(epyc.slowInt8Note(3.6).contains("about FP32 speed") && epyc.slowInt8Note(3.6).contains("3.6x smaller"), epyc.slowInt8Note(3.6));

        CpuInfo skx = CpuInfo.parse(x86("Intel Xeon Gold 6148", "avx2 avx512f avx512bw"), "amd64", "t");
        assertEquals(CpuInfo.Int8Path.X86_NO_VNNI, skx.path(), "AVX-512 without VNNI still uses vpmaddubsw");

        CpuInfo spr = CpuInfo.parse(x86("Intel Xeon Platinum 8481C", "avx2 avx512bw avx512_vnni avx_vnni amx_int8 amx_tile"), "amd64", "t");
        assertEquals(CpuInfo.Int8Path.X86_VNNI, spr.path());
        assertEquals(Set.of("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"), spr.features());
        assertNull(spr.slowInt8Note(3.6));
        assertEquals("Intel Xeon Platinum 8481C", spr.model());

        CpuInfo adl = CpuInfo.parse(x86("12th Gen Intel Core i7", "avx2 avx_vnni"), "amd64", "t");
        assertEquals(CpuInfo.Int8Path.X86_VNNI, adl.path(), "AVX-VNNI without AVX-512");
    }

    @Test
    void arm64() {
        String graviton = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp i8mm\nCPU implementer\t: 0x41\n";
        CpuInfo g = CpuInfo.parse(graviton, "aarch64", "t");
        assertEquals(CpuInfo.Int8Path.ARM_DOT, g.path());
        assertEquals(Set.of("asimddp", "i8mm"), g.features());
        CpuInfo a72 = CpuInfo.parse("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n", "aarch64", "t");
        assertEquals(CpuInfo.Int8Path.ARM_NO_DOT, a72.path());
        assertFalse(a72.path().saturates());
        assertNotNull(a72.slowInt8Note(Double.NaN));
    }

    @Test
    void unreadableOrGarbageIsUnknown(@TempDir Path dir) throws Exception {
        assertEquals(CpuInfo.Int8Path.UNKNOWN, CpuInfo.parse("", "amd64", "t").path());
        assertEquals(CpuInfo.Int8Path.UNKNOWN, CpuInfo.parse("\u0000\u0001garbage:::\n:\n", "amd64", "t").path());
        assertEquals(CpuInfo.Int8Path.UNKNOWN, CpuInfo.parse(x86("?", "mmx"), "amd64", "t").path(), "no int8 flag known");
        String old = System.getProperty("ptq.cpuinfo");
        try {
            System.setProperty("ptq.cpuinfo", dir.resolve("missing").toString());
            CpuInfo missing = CpuInfo.detect();
            assertEquals(CpuInfo.Int8Path.UNKNOWN, missing.path());
            assertTrue(missing.source().contains("missing"), missing.source());
            assertTrue(missing.path().saturates(), "an unknown CPU is assumed to saturate");
            System.setProperty("ptq.cpuinfo", dir.toString());
            assertEquals(CpuInfo.Int8Path.UNKNOWN, CpuInfo.detect().path(), "a folder");
            Path f = dir.resolve("cpuinfo");
            Files.writeString(f, x86("AMD EPYC 7B12", "avx2"));
            System.setProperty("ptq.cpuinfo", f.toString());
            assertEquals(CpuInfo.Int8Path.X86_NO_VNNI, CpuInfo.detect().path());
        } finally {
            if (old == null) System.clearProperty("ptq.cpuinfo");
            else System.setProperty("ptq.cpuinfo", old);
        }
    }

    @Test
    void thisMachineIsReadWithoutError() {
        CpuInfo h = CpuInfo.detect();
        assertNotNull(h.path());
        System.out.println("this CPU: " + h.describe() + " [" + h.source() + "]");
    }
}
