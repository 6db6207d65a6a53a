package dev.gatun.kv;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * The identity of a full block of cached KV: a 128-bit digest (SHA-256, truncated) of the parent
 * block's digest and this block's token ids, so it names the whole prefix up to and including
 * the block. Two prompts share a block exactly when they share every token up to its end
 * (a false match needs a 128-bit collision).
 */
record BlockHash(long high, long low) {
    static final BlockHash ROOT = new BlockHash(0, 0);

    static BlockHash of(BlockHash parent, int[] tokens, int from, int count) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ByteBuffer bytes = ByteBuffer.allocate(16 + 4 * count);
        bytes.putLong(parent.high).putLong(parent.low);
        for (int i = from; i < from + count; i++) bytes.putInt(tokens[i]);
        byte[] digest = sha.digest(bytes.array());
        ByteBuffer d = ByteBuffer.wrap(Arrays.copyOf(digest, 16));
        return new BlockHash(d.getLong(), d.getLong());
    }
}
