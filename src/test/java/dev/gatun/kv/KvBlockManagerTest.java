package dev.gatun.kv;

import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvBlockManagerTest {
    /**
     * Simulated device memory: what token's KV each slot holds. Writes go through the slots the
     * manager hands out, copies through its copy-on-write orders; every sequence must then read
     * its own tokens back through its block table, whatever was shared, evicted or copied.
     */
    static final class FakeCache {
        final int blockSize;
        final int[][] slots;

        FakeCache(int blocks, int blockSize) {
            this.blockSize = blockSize;
            slots = new int[blocks][blockSize];
            for (int[] b : slots) Arrays.fill(b, -1);
        }

        void write(KvBlockManager m, long seq, int from, int to, List<Integer> tokens) {
            for (int p = from; p < to; p++) {
                long slot = m.slot(seq, p);
                slots[(int) (slot / blockSize)][(int) (slot % blockSize)] = tokens.get(p);
            }
            m.markComputed(seq, to);
        }

        void copy(KvBlockManager.BlockCopy c) {
            if (c != null) slots[c.dst()] = slots[c.src()].clone();
        }

        void assertHolds(KvBlockManager m, long seq, List<Integer> tokens, int computed) {
            int[] table = m.blockTable(seq);  // what the attention kernels read through
            for (int p = 0; p < computed; p++) {
                long slot = m.slot(seq, p);
                assertEquals((long) table[p / blockSize] * blockSize + p % blockSize, slot, "block table vs slot of token " + p);
                assertEquals((int) tokens.get(p), slots[(int) (slot / blockSize)][(int) (slot % blockSize)],
                        "sequence " + seq + " token " + p + Seeds.replay());
            }
        }
    }

    @Test
    void aSharedPrefixIsComputedOnce() {
        KvBlockManager m = new KvBlockManager(16, 4, true);
        int[] prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        KvBlockManager.Admission first = m.admit(1, prompt);
        assertEquals(0, first.cachedTokens());
        m.markComputed(1, prompt.length);
        int[] second = {1, 2, 3, 4, 5, 6, 7, 8, 42, 43, 44};
        KvBlockManager.Admission again = m.admit(2, second);
        assertEquals(8, again.cachedTokens(), "two full blocks of the shared prefix are reused");
        assertArrayEquals(Arrays.copyOf(first.blockTable(), 2), Arrays.copyOf(again.blockTable(), 2));
        assertEquals(2, m.stats().prefixHitBlocks());
        m.checkInvariants();
        m.free(1);
        m.free(2);
        m.checkInvariants();
        assertEquals(2, m.stats().cachedBlocks(), "full blocks stay cached after their sequences end");
        KvBlockManager.Admission third = m.admit(3, Arrays.copyOf(prompt, 8));
        assertEquals(4, third.cachedTokens(), "the last token is always computed, so only the first block is reused");
        m.checkInvariants();
    }

    @Test
    void admissionThatCannotFitChangesNothing() {
        KvBlockManager m = new KvBlockManager(3, 4, true);
        assertNotNull(m.admit(1, new int[9]));
        KvBlockManager.Stats before = m.stats();
        assertNull(m.admit(2, new int[5]));
        assertEquals(before, m.stats());
        assertThrows(OutOfBlocksException.class, () -> {
            m.appendToken(1, 0);
            m.appendToken(1, 0);
            m.appendToken(1, 0);
            m.appendToken(1, 0);
        });
        m.checkInvariants();
        assertThrows(IllegalArgumentException.class, () -> m.admit(3, new int[0]));
        assertThrows(IllegalArgumentException.class, () -> m.admit(1, new int[1]));
        assertThrows(IllegalArgumentException.class, () -> m.slot(99, 0));
    }

    @Test
    void forkedSequencesCopyTheSharedBlockBeforeWriting() {
        KvBlockManager m = new KvBlockManager(8, 4, false);
        FakeCache cache = new FakeCache(8, 4);
        List<Integer> parent = new ArrayList<>(List.of(5, 6, 7, 8, 9, 10));
        m.admit(1, parent.stream().mapToInt(Integer::intValue).toArray());
        cache.write(m, 1, 0, parent.size(), parent);
        m.fork(1, 2);
        List<Integer> child = new ArrayList<>(parent);
        KvBlockManager.BlockCopy copy = m.appendToken(1, 11);
        assertNotNull(copy, "the last block is shared: the first writer copies it");
        cache.copy(copy);
        m.checkInvariants();
        assertNull(m.appendToken(2, 12), "the child now owns the original alone");
        m.checkInvariants();
        parent.add(11);
        child.add(12);
        cache.write(m, 1, 6, 7, parent);
        cache.write(m, 2, 6, 7, child);
        cache.assertHolds(m, 1, parent, 7);
        cache.assertHolds(m, 2, child, 7);
    }

    @Test
    void rejectedSpeculativeTokensAreTruncatedAndTheirBlocksGiven() {
        KvBlockManager m = new KvBlockManager(6, 4, true);
        m.admit(1, new int[] {1, 2, 3, 4, 5, 6});
        m.markComputed(1, 6);
        for (int t = 7; t <= 12; t++) m.appendToken(1, t); // six speculative tokens: blocks 2 and 3 are new
        assertEquals(3, m.blockTable(1).length);
        assertEquals(3, m.stats().usedBlocks());
        m.truncate(1, 8); // two accepted
        assertEquals(2, m.blockTable(1).length, "the block holding only rejected tokens is given back");
        assertEquals(8, m.length(1));
        assertEquals(4, m.stats().freeBlocks(), "given back to the free list: rejected tokens were never computed, so never hashed");
        m.checkInvariants();
        m.markComputed(1, 8);
        var e = assertThrows(IllegalArgumentException.class, () -> m.truncate(1, 7));
        assertTrue(e.getMessage().contains("outside [8, 8]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.truncate(1, 9));
        m.free(1);
        m.checkInvariants();
        assertEquals(2, m.stats().cachedBlocks(), "the two full computed blocks stay cached");
    }

    /** Many sequences with shared prefixes, decoding (also speculatively), forking, finishing at random in a small pool. */
    @Test
    void randomScenariosKeepEverySequencesContentAndTheInvariants() {
        Random random = Seeds.random("kv-scenario");
        int blocks = 24, blockSize = 4;
        KvBlockManager m = new KvBlockManager(blocks, blockSize, true);
        FakeCache cache = new FakeCache(blocks, blockSize);
        Map<Long, List<Integer>> live = new HashMap<>();
        int[][] prefixes = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 9, 9, 9}, {1, 2, 3, 4, 100, 101, 102, 103, 104}};
        long next = 1;
        for (int step = 0; step < 3000; step++) {
            int action = random.nextInt(11);
            if (action < 3 || live.isEmpty()) {
                List<Integer> prompt = new ArrayList<>();
                for (int t : prefixes[random.nextInt(prefixes.length)]) prompt.add(t);
                for (int i = random.nextInt(6); i > 0; i--) prompt.add(random.nextInt(50));
                KvBlockManager.Admission a = m.admit(next, prompt.stream().mapToInt(Integer::intValue).toArray());
                if (a != null) {
                    cache.assertHolds(m, next, prompt, a.cachedTokens()); // reused blocks hold this prompt's prefix
                    cache.write(m, next, a.cachedTokens(), prompt.size(), prompt);
                    live.put(next, prompt);
                }
                next++;
            } else if (action < 8) {
                long seq = pick(live, random);
                int token = random.nextInt(50);
                try {
                    cache.copy(m.appendToken(seq, token));
                    live.get(seq).add(token);
                    cache.write(m, seq, live.get(seq).size() - 1, live.get(seq).size(), live.get(seq));
                } catch (OutOfBlocksException full) {
                    m.free(seq); // preempt it
                    live.remove(seq);
                }
            } else if (action == 10) { // speculative tokens, of which a random prefix is accepted
                long seq = pick(live, random);
                List<Integer> tokens = live.get(seq);
                int before = tokens.size(), appended = 0;
                int[] proposed = random.ints(1 + random.nextInt(5), 0, 50).toArray();
                try {
                    for (; appended < proposed.length; appended++) cache.copy(m.appendToken(seq, proposed[appended]));
                } catch (OutOfBlocksException full) {
                    // verify what fit
                }
                int accepted = random.nextInt(appended + 1);
                m.truncate(seq, before + accepted);
                for (int i = 0; i < accepted; i++) tokens.add(proposed[i]);
                cache.write(m, seq, before, before + accepted, tokens);
            } else if (action < 9) {
                long parent = pick(live, random);
                m.fork(parent, next);
                live.put(next++, new ArrayList<>(live.get(parent)));
            } else {
                long seq = pick(live, random);
                m.free(seq);
                live.remove(seq);
            }
            m.checkInvariants();
            for (var e : live.entrySet()) cache.assertHolds(m, e.getKey(), e.getValue(), e.getValue().size());
        }
        for (long seq : live.keySet()) m.free(seq);
        m.checkInvariants();
        KvBlockManager.Stats end = m.stats();
        assertEquals(blocks, end.freeBlocks() + end.cachedBlocks(), "everything is free or cached at the end");
        assertTrue(end.prefixHitBlocks() > 0, "shared prefixes were reused");
    }

    private static long pick(Map<Long, List<Integer>> live, Random random) {
        List<Long> keys = new ArrayList<>(live.keySet());
        keys.sort(null);
        return keys.get(random.nextInt(keys.size()));
    }

    @Test
    void smallestPoolsAndTheEdgesOfASequence() {
        KvBlockManager m = new KvBlockManager(1, 1, true);  // one block of one token: the smallest valid pool
        assertNotNull(m.admit(1, new int[] {7}));
        assertEquals(0, m.availableBlocks());
        assertEquals(0, m.slot(1, 0));
        var e = assertThrows(IllegalArgumentException.class, () -> m.slot(1, 1));
        assertTrue(e.getMessage().contains("has no token 1"), e.getMessage());
        m.markComputed(1, 1);
        m.free(1);
        KvBlockManager.Stats s = m.stats();
        assertEquals(1, s.cachedBlocks(), "the full block stays cached for reuse");
        assertEquals(s.freeBlocks() + s.cachedBlocks(), m.availableBlocks(), "cached blocks can be evicted, so they count as available");
        assertEquals(1, m.availableBlocks());
        m.checkInvariants();
    }
}
