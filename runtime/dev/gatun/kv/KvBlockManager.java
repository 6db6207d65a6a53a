package dev.gatun.kv;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paged KV cache's bookkeeping: fixed-size blocks of {@code blockSize} token slots, a block
 * table per sequence, a free list, reference counts, and (optionally) prefix caching: every full
 * block is registered under the {@link BlockHash} of its prefix, so a later sequence with the same
 * prefix reuses it instead of recomputing; blocks nobody uses stay cached until space is needed
 * and are then evicted least recently used first. A block shared by several sequences (a fork for
 * parallel sampling) is copied before one of them writes into it (copy on write).
 *
 * <p>Every block is in exactly one state: free (no references, no hash), cached (no references,
 * hashed: reusable or evictable) or in use (referenced). {@link #checkInvariants()} verifies that
 * free + cached + in use = total and that reference counts equal the block tables' uses. Not
 * thread-safe: the engine thread owns it.
 */
public final class KvBlockManager {
    /** A slot to copy before writing: {@code src} block's rows into {@code dst} (copy on write). */
    public record BlockCopy(int src, int dst) {}

    /** Result of admitting a sequence: how many of its first tokens are already in the cache. */
    public record Admission(int cachedTokens, int[] blockTable) {}

    /** Counts for metrics and tests. */
    public record Stats(int totalBlocks, int freeBlocks, int cachedBlocks, int usedBlocks, long prefixQueries, long prefixHitBlocks) {}

    private final int blockSize;
    private final boolean prefixCaching;
    private final int[] references;
    private final BlockHash[] hashes;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    /** Unreferenced hashed blocks in least-recently-used order (the first is evicted first). */
    private final LinkedHashMap<Integer, BlockHash> evictable = new LinkedHashMap<>();
    private final Map<BlockHash, Integer> byHash = new HashMap<>();
    private final Map<Long, Sequence> sequences = new HashMap<>();
    private long prefixQueries, prefixHitBlocks;

    private static final class Sequence {
        final List<Integer> blocks = new ArrayList<>();
        final List<Integer> tokens = new ArrayList<>();
        /** Tokens whose KV is in the cache (computed or reused). */
        int computed;
        /** Full blocks already registered under their hash. */
        int hashedBlocks;
        BlockHash lastHash = BlockHash.ROOT;
    }

    public KvBlockManager(int numBlocks, int blockSize, boolean prefixCaching) {
        if (numBlocks < 1) throw new IllegalArgumentException("the KV cache needs at least one block, got " + numBlocks);
        if (blockSize < 1 || Integer.bitCount(blockSize) != 1)
            throw new IllegalArgumentException("block size must be a power of two, got " + blockSize);
        this.blockSize = blockSize;
        this.prefixCaching = prefixCaching;
        this.references = new int[numBlocks];
        this.hashes = new BlockHash[numBlocks];
        for (int b = 0; b < numBlocks; b++) free.add(b);
    }

    public int blockSize() { return blockSize; }

    public int totalBlocks() { return references.length; }

    /** Blocks that an allocation can take now: free ones and evictable cached ones. */
    public int availableBlocks() { return free.size() + evictable.size(); }

    /** Blocks a sequence of {@code tokens} tokens occupies. */
    public int blocksFor(int tokens) { return (tokens + blockSize - 1) / blockSize; }

    public boolean contains(long sequence) { return sequences.containsKey(sequence); }

    /**
     * Admits a sequence with its prompt: reuses the longest cached prefix of full blocks (leaving
     * at least the last prompt token to compute, whose logits the engine needs) and allocates the
     * rest. Returns null, changing nothing, when the blocks cannot be had.
     */
    public Admission admit(long sequence, int[] prompt) {
        if (sequences.containsKey(sequence)) throw new IllegalArgumentException("sequence " + sequence + " is already admitted");
        if (prompt.length == 0) throw new IllegalArgumentException("sequence " + sequence + " has an empty prompt");
        List<Integer> hits = new ArrayList<>();
        BlockHash parent = BlockHash.ROOT;
        int reusable = prefixCaching ? (prompt.length - 1) / blockSize : 0;
        if (prefixCaching) {
            for (int i = 0; i < reusable; i++) {
                BlockHash h = BlockHash.of(parent, prompt, i * blockSize, blockSize);
                Integer block = byHash.get(h);
                if (block == null) break;
                hits.add(block);
                parent = h;
            }
        }
        int needed = blocksFor(prompt.length) - hits.size();
        int hitsThatAreEvictable = (int) hits.stream().filter(evictable::containsKey).count();
        if (needed > availableBlocks() - hitsThatAreEvictable) return null;
        Sequence s = new Sequence();
        for (int block : hits) {
            retain(block);
            s.blocks.add(block);
        }
        prefixQueries += reusable;
        prefixHitBlocks += hits.size();
        for (int i = 0; i < needed; i++) s.blocks.add(take());
        for (int t : prompt) s.tokens.add(t);
        s.computed = hits.size() * blockSize;
        s.hashedBlocks = hits.size();
        s.lastHash = parent;
        sequences.put(sequence, s);
        return new Admission(s.computed, blockTable(sequence));
    }

    /**
     * Makes room for one more token of {@code sequence} (a decode step): allocates a new block when
     * the last is full, and copies the last block first when it is shared. Returns the copy to make
     * on the device (or null), or throws {@link OutOfBlocksException} when no block is left (the
     * scheduler then preempts someone and retries).
     */
    public BlockCopy appendToken(long sequence, int token) {
        Sequence s = require(sequence);
        BlockCopy copy = null;
        int position = s.tokens.size();
        if (position == s.blocks.size() * blockSize) {
            if (availableBlocks() == 0) throw new OutOfBlocksException(sequence);
            s.blocks.add(take());
        } else {
            int last = s.blocks.getLast();
            if (references[last] > 1) {
                if (availableBlocks() == 0) throw new OutOfBlocksException(sequence);
                int fresh = take();
                release(last);
                s.blocks.set(s.blocks.size() - 1, fresh);
                copy = new BlockCopy(last, fresh);
            }
        }
        s.tokens.add(token);
        return copy;
    }

    /** Records that the KV of the first {@code tokens} tokens is now computed; registers newly full blocks for reuse. */
    public void markComputed(long sequence, int tokens) {
        Sequence s = require(sequence);
        if (tokens < s.computed || tokens > s.tokens.size())
            throw new IllegalArgumentException("sequence " + sequence + ": computed tokens " + tokens + " outside [" + s.computed + ", " + s.tokens.size() + "]");
        s.computed = tokens;
        if (!prefixCaching) return;
        int[] ids = null; // only when a block became full: a decode step mostly completes none
        while ((s.hashedBlocks + 1) * blockSize <= s.computed) {
            if (ids == null) ids = s.tokens.stream().mapToInt(Integer::intValue).toArray();
            int index = s.hashedBlocks;
            BlockHash h = BlockHash.of(s.lastHash, ids, index * blockSize, blockSize);
            int block = s.blocks.get(index);
            Integer existing = byHash.get(h);
            if (existing == null && hashes[block] == null && references[block] == 1) {
                hashes[block] = h;
                byHash.put(h, block);
            }
            s.lastHash = h;
            s.hashedBlocks++;
        }
    }

    /**
     * Drops the tokens of {@code sequence} after its first {@code tokens} (speculative tokens the
     * target rejected) and gives back the blocks that no longer hold any. Only tokens not yet
     * marked computed can go, so no hashed block is touched.
     */
    public void truncate(long sequence, int tokens) {
        Sequence s = require(sequence);
        if (tokens < s.computed || tokens > s.tokens.size())
            throw new IllegalArgumentException("sequence " + sequence + ": cannot truncate to " + tokens + " tokens, outside [" + s.computed + ", " + s.tokens.size() + "]");
        s.tokens.subList(tokens, s.tokens.size()).clear();
        while (s.blocks.size() > blocksFor(tokens)) release(s.blocks.removeLast());
    }

    /** Shares all of {@code parent}'s blocks with a new sequence {@code child} (parallel sampling, beam forks). */
    public void fork(long parent, long child) {
        if (sequences.containsKey(child)) throw new IllegalArgumentException("sequence " + child + " already exists");
        Sequence p = require(parent), c = new Sequence();
        for (int block : p.blocks) {
            retain(block);
            c.blocks.add(block);
        }
        c.tokens.addAll(p.tokens);
        c.computed = p.computed;
        c.hashedBlocks = p.hashedBlocks;
        c.lastHash = p.lastHash;
        sequences.put(child, c);
    }

    /** Gives back every block of {@code sequence} (finished, cancelled or preempted for recompute). */
    public void free(long sequence) {
        Sequence s = sequences.remove(sequence);
        if (s == null) return;
        // the tail first, so that the prefix blocks become the most recently used of what is evictable
        for (int i = s.blocks.size() - 1; i >= 0; i--) release(s.blocks.get(i));
    }

    /** The physical block ids of {@code sequence}, in order. */
    public int[] blockTable(long sequence) {
        List<Integer> blocks = require(sequence).blocks;
        int[] table = new int[blocks.size()];
        for (int i = 0; i < table.length; i++) table[i] = blocks.get(i);
        return table;
    }

    /** Tokens of {@code sequence} (prompt and generated). */
    public int length(long sequence) { return require(sequence).tokens.size(); }

    /** The cache slot of token {@code position} of {@code sequence}: block id × block size + offset. */
    public long slot(long sequence, int position) {
        Sequence s = require(sequence);
        if (position < 0 || position >= s.tokens.size())
            throw new IllegalArgumentException("sequence " + sequence + " has no token " + position);
        return (long) s.blocks.get(position / blockSize) * blockSize + position % blockSize;
    }

    public Stats stats() {
        int used = references.length - free.size() - evictable.size();
        return new Stats(references.length, free.size(), evictable.size(), used, prefixQueries, prefixHitBlocks);
    }

    /** Throws when the bookkeeping is inconsistent; the tests call it after every scenario step. */
    public void checkInvariants() {
        int[] counted = new int[references.length];
        for (Sequence s : sequences.values()) {
            if (s.blocks.size() != blocksFor(s.tokens.size()))
                throw new IllegalStateException("a sequence of " + s.tokens.size() + " tokens holds " + s.blocks.size() + " blocks");
            for (int b : s.blocks) counted[b]++;
        }
        boolean[] seen = new boolean[references.length];
        for (int b : free) {
            if (seen[b] || references[b] != 0 || hashes[b] != null) throw new IllegalStateException("free block " + b + " is also elsewhere");
            seen[b] = true;
        }
        for (int b : evictable.keySet()) {
            if (seen[b] || references[b] != 0 || hashes[b] == null) throw new IllegalStateException("cached block " + b + " is inconsistent");
            seen[b] = true;
        }
        for (int b = 0; b < references.length; b++) {
            if (references[b] != counted[b]) throw new IllegalStateException("block " + b + " has " + references[b] + " references, tables hold " + counted[b]);
            if (!seen[b] && references[b] == 0) throw new IllegalStateException("block " + b + " is neither free, cached nor in use");
            if (hashes[b] != null && byHash.get(hashes[b]) != b) throw new IllegalStateException("block " + b + "'s hash maps elsewhere");
        }
        if (byHash.size() != (int) java.util.Arrays.stream(hashes).filter(java.util.Objects::nonNull).count())
            throw new IllegalStateException("hash index and blocks disagree");
    }

    private Sequence require(long sequence) {
        Sequence s = sequences.get(sequence);
        if (s == null) throw new IllegalArgumentException("no sequence " + sequence + " in the KV cache");
        return s;
    }

    /** A free block, or the least recently used cached one (its hash forgotten). */
    private int take() {
        int block;
        if (!free.isEmpty()) {
            block = free.poll();
        } else {
            Iterator<Map.Entry<Integer, BlockHash>> oldest = evictable.entrySet().iterator();
            if (!oldest.hasNext()) throw new IllegalStateException("no block left: callers check availableBlocks() first");
            Map.Entry<Integer, BlockHash> victim = oldest.next();
            oldest.remove();
            block = victim.getKey();
            byHash.remove(victim.getValue());
            hashes[block] = null;
        }
        references[block] = 1;
        return block;
    }

    private void retain(int block) {
        if (references[block]++ == 0) evictable.remove(block);
    }

    private void release(int block) {
        if (--references[block] > 0) return;
        if (hashes[block] != null) evictable.put(block, hashes[block]);
        else free.add(block);
    }
}
