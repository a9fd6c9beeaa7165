package org.ptq4j.spi.tensor;

/** IEEE 754 half-precision conversions (round to nearest even). */
public final class Float16 {
    private Float16() {}

    public static float toFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            float v = mant / 1024f / 16384f; // subnormal: mant * 2^-24
            return sign == 0 ? v : -v;
        }
        if (exp == 31) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int val = (bits & 0x7fffffff);
        if (val >= 0x7f800000) return (short) (sign | 0x7c00 | (val > 0x7f800000 ? 0x200 : 0));
        if (val >= 0x477ff000) return (short) (sign | 0x7c00); // overflow -> inf
        if (val < 0x38800000) { // subnormal or zero
            int shift = 126 - (val >>> 23);
            if (shift > 24) return (short) sign;
            int mant = (val & 0x7fffff) | 0x800000;
            // round to nearest even on the shifted-out bits
            int q = mant >>> (shift);
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (q & 1) != 0)) q++;
            return (short) (sign | q);
        }
        int r = val + 0x0fff + ((val >>> 13) & 1);
        return (short) (sign | ((r - 0x38000000) >>> 13));
    }
}
