package org.ptq4j.spi.io;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy {@code .npy} files (format 1.0-3.0, C order, little-endian or byte-sized dtypes).
 * Reading memory-maps the file: a large array is not loaded until its rows are read.
 */
public final class Npy {
    private Npy() {}

    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** Reads (memory-maps) an .npy file. Errors name the file and what is wrong. */
    public static Tensor read(Path file) {
        // a FIFO would block, a device never end
        if (Files.exists(file) && !Files.isRegularFile(file)) throw new PtqException(file + ": not a regular file (expected an .npy file)");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
            return parse(all, file.toString());
        } catch (IOException e) {
            throw new PtqException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Parses .npy bytes (e.g. an entry of an .npz archive); {@code what} names the source in errors. */
    public static Tensor parse(ByteBuffer buf, String what) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 10 || b.get() != (byte) 0x93 || b.get() != 'N' || b.get() != 'U' || b.get() != 'M' || b.get() != 'P' || b.get() != 'Y')
            throw new PtqException(what + ": not a NumPy .npy file (bad magic)");
        int major = b.get() & 0xff;
        b.get();
        if (major < 1 || major > 3) throw new PtqException(what + ": unsupported .npy format version " + major + " (expected 1, 2 or 3)");
        if (major > 1 && b.remaining() < 4) throw new PtqException(what + ": truncated .npy header");
        int headerLen = major == 1 ? (b.getShort() & 0xffff) : b.getInt();
        if (headerLen < 0 || headerLen > b.remaining()) throw new PtqException(what + ": truncated .npy header");
        byte[] h = new byte[headerLen];
        b.get(h);
        String header = new String(h, major >= 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header), f = FORTRAN.matcher(header), s = SHAPE.matcher(header);
        if (!d.find() || !s.find()) throw new PtqException(what + ": .npy header without descr/shape: " + header.trim());
        if (f.find() && f.group(1).equals("True")) throw new PtqException(what + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
        String descr = d.group(1);
        DType dtype = dtypeOf(descr, what);
        List<Long> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            if (part.isBlank()) continue;
            long dim;
            try { dim = Long.parseLong(part.trim().replaceFirst("[lL]$", "")); } catch (NumberFormatException e) { dim = -1; }
            if (dim < 0) throw new PtqException(what + ": .npy shape (" + s.group(1).trim() + ") has '" + part.trim() + "'; expected dimensions >= 0");
            dims.add(dim);
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        // the declared size, checked against the bytes present without overflowing
        long bytes = dtype.byteSize();
        for (long dim : shape) bytes = dim == 0 || bytes == 0 ? 0 : bytes > Long.MAX_VALUE / dim ? Long.MAX_VALUE : bytes * dim;
        if (b.remaining() < bytes)
            throw new PtqException(what + ": truncated: shape " + dims + " of " + descr + " needs " + (bytes == Long.MAX_VALUE ? "more than 2^63" : Long.toString(bytes)) + " data bytes, file has " + b.remaining());
        ByteBuffer data = b.slice();
        data.limit((int) bytes);
        if (descr.startsWith(">") && dtype.byteSize() > 1) data = swap(data, dtype.byteSize());
        return Tensor.of(dtype, shape, data);
    }

    private static ByteBuffer swap(ByteBuffer be, int width) {
        ByteBuffer out = ByteBuffer.allocate(be.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        byte[] tmp = new byte[width];
        while (be.remaining() >= width) {
            be.get(tmp);
            for (int i = width - 1; i >= 0; i--) out.put(tmp[i]);
        }
        out.flip();
        return out;
    }

    private static DType dtypeOf(String descr, String what) {
        String t = descr.replaceAll("^[<>|=]", "");
        switch (t) {
            case "f4": return DType.FLOAT;
            case "f8": return DType.DOUBLE;
            case "f2": return DType.FLOAT16;
            case "u1": return DType.UINT8;
            case "i1": return DType.INT8;
            case "b1": return DType.BOOL;
            case "u2": return DType.UINT16;
            case "i2": return DType.INT16;
            case "i4": return DType.INT32;
            case "u4": return DType.UINT32;
            case "i8": return DType.INT64;
            case "u8": return DType.UINT64;
            default: throw new PtqException(what + ": unsupported .npy dtype '" + descr + "' (expected a numeric dtype such as <f4, |u1, <i8)");
        }
    }

    /** Writes a tensor as an .npy (format 1.0) file. */
    public static void write(Tensor t, Path file) throws IOException {
        Files.write(file, toBytes(t));
    }

    public static byte[] toBytes(Tensor t) {
        String descr;
        switch (t.dtype()) {
            case FLOAT: descr = "<f4"; break;
            case DOUBLE: descr = "<f8"; break;
            case FLOAT16: descr = "<f2"; break;
            case UINT8: descr = "|u1"; break;
            case INT8: descr = "|i1"; break;
            case BOOL: descr = "|b1"; break;
            case INT16: descr = "<i2"; break;
            case UINT16: descr = "<u2"; break;
            case INT32: descr = "<i4"; break;
            case UINT32: descr = "<u4"; break;
            case INT64: descr = "<i8"; break;
            case UINT64: descr = "<u8"; break;
            default: throw new IllegalArgumentException("cannot write " + t.dtype() + " as .npy");
        }
        StringBuilder shape = new StringBuilder();
        for (long d : t.shape()) shape.append(d).append(", ");
        String sh = t.rank() == 1 ? "(" + t.shape()[0] + ",)" : "(" + (shape.length() > 0 ? shape.substring(0, shape.length() - 2) : "") + ")";
        String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + ", }";
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        header = header + " ".repeat(pad) + "\n";
        ByteBuffer data = t.bytes();
        ByteBuffer out = ByteBuffer.allocate(10 + header.length() + data.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        out.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        out.putShort((short) header.length());
        out.put(header.getBytes(StandardCharsets.ISO_8859_1));
        out.put(data);
        return out.array();
    }
}
