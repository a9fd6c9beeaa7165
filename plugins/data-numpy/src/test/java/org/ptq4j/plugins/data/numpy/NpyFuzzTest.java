package org.ptq4j.plugins.data.numpy;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.ptq4j.host.testing.Fuzz;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The .npy reader ({@code spi.io.Npy}) and the .npz reader of the {@code numpy} dataset on generated
 * headers (versions, dtypes, shapes with negative, huge and non-numeric dimensions, short data) and
 * on mutated valid files: a {@code PtqException} with a message or a tensor whose rows can be read,
 * never another exception, at most 64 MB allocated beyond the input, within 20 s.
 */
class NpyFuzzTest {
    static byte[] valid;
    static Path folder;

    @BeforeContainer
    static void setUp() throws IOException {
        float[] v = new float[3 * 4 * 2];
        for (int i = 0; i < v.length; i++) v[i] = i;
        valid = Npy.toBytes(Tensor.ofFloats(new long[]{3, 4, 2}, v));
        folder = Files.createTempDirectory("npy-fuzz");
    }

    @AfterContainer
    static void tearDown() throws IOException {
        Fuzz.report(NpyFuzzTest.class);
        try (var s = Files.walk(folder)) { for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p); }
    }

    /** Reads as a file (memory-mapped) and as bytes, and touches every row as the dataset would. */
    static void read(String what, byte[] bytes) {
        Fuzz.check(what, bytes.length * 4L + (64 << 20), 20, () -> {
            Path f = folder.resolve("x.npy");
            try { Files.write(f, bytes); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
            rows(Npy.read(f));
            rows(Npy.parse(ByteBuffer.wrap(bytes), "bytes"));
        });
    }

    static void rows(Tensor t) {
        if (t.rank() == 0 || t.dim(0) == 0) return;
        long[] rowShape = java.util.Arrays.copyOfRange(t.shape(), 1, t.rank());
        t.slice0(0, 1).reshape(rowShape).to(org.ptq4j.spi.tensor.DType.FLOAT);
        t.slice0(t.dim(0) - 1, t.dim(0)).reshape(rowShape);
    }

    @Property
    void generatedHeaders(@ForAll("headers") byte[] npy) {
        read("npy " + new String(npy, 0, Math.min(npy.length, 160), StandardCharsets.ISO_8859_1), npy);
    }

    @Property
    void mutatedFiles(@ForAll("edits") List<int[]> edits) {
        read("npy with edits " + edits.stream().map(java.util.Arrays::toString).toList(), Fuzz.mutate(valid, edits));
    }

    @Property
    void mutatedNpz(@ForAll("edits") List<int[]> edits) throws IOException {
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(zip)) {
            z.putNextEntry(new ZipEntry("input.npy"));
            z.write(valid);
            z.closeEntry();
        }
        byte[] bytes = Fuzz.mutate(zip.toByteArray(), edits);
        Fuzz.check("npz with edits " + edits.stream().map(java.util.Arrays::toString).toList(), (64 << 20), 20, () -> {
            Path f = folder.resolve("x.npz");
            try { Files.write(f, bytes); } catch (IOException e) { throw new java.io.UncheckedIOException(e); }
            rows(NumpyDatasetFactory.load(f, "input", true));
        });
    }

    @Provide
    Arbitrary<List<int[]>> edits() {
        return Arbitraries.integers().array(int[].class).ofSize(3).list().ofMinSize(1).ofMaxSize(6);
    }

    @Provide
    Arbitrary<byte[]> headers() {
        Arbitrary<Integer> version = Arbitraries.of(1, 1, 1, 2, 3, 0, 4, 255);
        Arbitrary<String> descr = Arbitraries.of("<f4", "<f8", "|u1", "|i1", "<i8", ">f4", ">i2", "|b1", "<f2", "<c8", "O", "<U5", "", "f4", "=i4", "<u8");
        Arbitrary<String> fortran = Arbitraries.of("False", "True", "maybe");
        Arbitrary<String> dim = Arbitraries.oneOf(Arbitraries.integers().between(0, 5).map(String::valueOf),
                Arbitraries.of("-1", "-3", "2147483648", "4294967296", "9223372036854775807", "99999999999999999999", "abc", "3L", "", " 2 "));
        Arbitrary<String> shape = dim.list().ofMaxSize(4).map(l -> "(" + String.join(", ", l) + (l.size() == 1 ? ",)" : ")"));
        Arbitrary<Integer> dataBytes = Arbitraries.integers().between(0, 200);
        Arbitrary<Integer> lengthDelta = Arbitraries.of(0, 0, 0, 1, -1, 1000, -1000);
        return Combinators.combine(version, descr, fortran, shape, dataBytes, lengthDelta).as((v, d, f, s, n, delta) -> {
            String header = "{'descr': '" + d + "', 'fortran_order': " + f + ", 'shape': " + s + ", }\n";
            byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
            ByteBuffer b = ByteBuffer.allocate(12 + h.length + n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) (int) v).put((byte) 0);
            if (v == 1) b.putShort((short) (h.length + delta)); else b.putInt(h.length + delta);
            b.put(h);
            for (int i = 0; i < n; i++) b.put((byte) i);
            return java.util.Arrays.copyOf(b.array(), b.position());
        });
    }
}
