package dev.gatun.tensor;

/** Element types of tensors. fp16 is IEEE binary16; bf16 is the top half of an fp32. */
public enum DType {
    F32("fp32", 4, true),
    F16("fp16", 2, true),
    BF16("bf16", 2, true),
    I32("int32", 4, false),
    I64("int64", 8, false);

    private final String id;
    private final int bytes;
    private final boolean floating;

    DType(String id, int bytes, boolean floating) {
        this.id = id;
        this.bytes = bytes;
        this.floating = floating;
    }

    /** The name used in messages, flags and reports: fp32, fp16, bf16, int32, int64. */
    public String id() { return id; }

    public int byteSize() { return bytes; }

    public boolean isFloatingPoint() { return floating; }

    public static DType parse(String name) {
        for (DType t : values()) if (t.id.equalsIgnoreCase(name.trim()) || t.name().equalsIgnoreCase(name.trim())) return t;
        throw new IllegalArgumentException("unknown dtype '" + name + "': expected fp32, fp16, bf16, int32 or int64");
    }

    /** Rounds {@code value} to bf16 (round to nearest even; NaN stays NaN) and returns its bits. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040); // quiet NaN
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** {@code value} as this floating-point type would store it, back in fp32. */
    public float round(float value) {
        return switch (this) {
            case F32 -> value;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(value));
            case BF16 -> bf16ToFloat(floatToBf16(value));
            default -> throw new IllegalArgumentException(id + " is not a floating-point type");
        };
    }

    @Override
    public String toString() { return id; }
}
