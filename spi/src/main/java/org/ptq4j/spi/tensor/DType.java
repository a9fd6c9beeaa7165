package org.ptq4j.spi.tensor;

/** Element types, numbered as in ONNX's {@code TensorProto.DataType}. */
public enum DType {
    FLOAT(1, 4), UINT8(2, 1), INT8(3, 1), UINT16(4, 2), INT16(5, 2), INT32(6, 4), INT64(7, 8),
    STRING(8, 0), BOOL(9, 1), FLOAT16(10, 2), DOUBLE(11, 8), UINT32(12, 4), UINT64(13, 8), BFLOAT16(16, 2);

    private final int onnxCode;
    private final int byteSize;

    DType(int onnxCode, int byteSize) {
        this.onnxCode = onnxCode;
        this.byteSize = byteSize;
    }

    /** The ONNX {@code TensorProto.DataType} number. */
    public int onnxCode() { return onnxCode; }

    /** Bytes per element (0 for STRING). */
    public int byteSize() { return byteSize; }

    public boolean isFloatingPoint() { return this == FLOAT || this == FLOAT16 || this == DOUBLE || this == BFLOAT16; }

    public static DType fromOnnx(int code) {
        for (DType t : values()) if (t.onnxCode == code) return t;
        throw new IllegalArgumentException("unsupported ONNX element type " + code);
    }

    /** Parses a NumPy-ish or ONNX-ish name: float32, float, uint8, int64, float16 ... */
    public static DType parse(String name) {
        switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "float32": case "float": case "f32": return FLOAT;
            case "float16": case "half": case "f16": return FLOAT16;
            case "bfloat16": return BFLOAT16;
            case "float64": case "double": return DOUBLE;
            case "uint8": case "u8": return UINT8;
            case "int8": case "i8": return INT8;
            case "uint16": return UINT16;
            case "int16": return INT16;
            case "int32": return INT32;
            case "int64": case "long": return INT64;
            case "uint32": return UINT32;
            case "uint64": return UINT64;
            case "bool": return BOOL;
            default: throw new IllegalArgumentException("unknown dtype '" + name + "'");
        }
    }
}
