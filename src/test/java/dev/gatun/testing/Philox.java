package dev.gatun.testing;

/** Philox4x32-10 (Salmon et al., SC'11) written from the paper, the tests' reference for the devices' generator. */
public final class Philox {
    private Philox() {}

    /** Ten rounds over counter (c0..c3) with key (k0, k1) and the Weyl key schedule. */
    public static int[] philox(int c0, int c1, int c2, int c3, int k0, int k1) {
        for (int round = 0; round < 10; round++) {
            long p0 = (c0 & 0xffffffffL) * 0xD2511F53L, p1 = (c2 & 0xffffffffL) * 0xCD9E8D57L;
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0, n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            c1 = (int) p1;
            c3 = (int) p0;
            c0 = n0;
            c2 = n2;
            k0 += 0x9E3779B9;
            k1 += 0xBB67AE85;
        }
        return new int[] {c0, c1, c2, c3};
    }
}
