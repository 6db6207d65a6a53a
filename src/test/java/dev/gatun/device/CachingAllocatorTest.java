package dev.gatun.device;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CachingAllocatorTest {
    /** A device with {@code capacity} bytes that records what is live. */
    static final class FakeMemory implements CachingAllocator.RawMemory {
        final long capacity;
        long used, next = 4096;
        final java.util.Map<Long, Long> live = new java.util.HashMap<>();
        int synchronizations;

        FakeMemory(long capacity) { this.capacity = capacity; }

        @Override public long allocate(long bytes) {
            if (used + bytes > capacity) return 0;
            used += bytes;
            long address = next;
            next += bytes + 4096;
            live.put(address, bytes);
            return address;
        }

        @Override public void free(long address) {
            Long bytes = live.remove(address);
            assertTrue(bytes != null, "freed an address that was not live");
            used -= bytes;
        }

        @Override public void synchronize() { synchronizations++; }
    }

    private final Device device = Devices.get("cpu");
    private final Stream s1 = device.newStream(), s2 = device.newStream();

    @Test
    void sizeClassesBoundTheSlack() {
        assertEquals(512, CachingAllocator.sizeClass(0));
        assertEquals(512, CachingAllocator.sizeClass(1));
        assertEquals(1024, CachingAllocator.sizeClass(513));
        assertEquals(1 << 20, CachingAllocator.sizeClass(1 << 20));
        for (long bytes = (1 << 20) + 1; bytes < (1L << 34); bytes = bytes * 3 + 17) {
            long size = CachingAllocator.sizeClass(bytes);
            assertTrue(size >= bytes && size <= bytes * 1.25 + 1, bytes + " -> " + size);
        }
        // four classes per power of two above 1 MiB; a request of exactly a class gets that class
        long mib = 1 << 20;
        assertEquals(mib + mib / 4, CachingAllocator.sizeClass(mib + 1));
        assertEquals(mib + mib / 4, CachingAllocator.sizeClass(mib + mib / 4));
        assertEquals(mib + mib / 2, CachingAllocator.sizeClass(mib + mib / 4 + 1));
        assertEquals(2 * mib, CachingAllocator.sizeClass(2 * mib));
        assertEquals(3 * mib, CachingAllocator.sizeClass(3 * mib - 1));
        assertEquals(3 * mib, CachingAllocator.sizeClass(3 * mib));
        assertThrows(IllegalArgumentException.class, () -> CachingAllocator.sizeClass(-1));
    }

    @Test
    void freedBlocksAreReusedOnTheirOwnStreamOnly() {
        FakeMemory memory = new FakeMemory(1 << 30);
        CachingAllocator allocator = new CachingAllocator("fake", memory, true);
        CachingAllocator.Block a = allocator.allocate(1000, s1);
        allocator.free(a);
        CachingAllocator.Block b = allocator.allocate(900, s1);
        assertEquals(a.address(), b.address(), "same stream, same class: reused");
        CachingAllocator.Block c = allocator.allocate(900, s2);
        assertNotEquals(b.address(), c.address(), "another stream never gets a block that stream 1 may still use");
        var stats = allocator.stats();
        assertEquals(2, stats.deviceAllocations());
        assertEquals(1, stats.cacheHits());
        assertEquals(2048, stats.inUseBytes());
        allocator.free(b);
        allocator.free(c);
        assertEquals(0, allocator.stats().inUseBytes());
        assertEquals(2048, allocator.stats().cachedBytes());
        assertEquals(2048, allocator.stats().peakInUseBytes());
        allocator.emptyCache();
        assertTrue(memory.live.isEmpty(), "emptyCache gives everything back");
        assertThrows(IllegalStateException.class, () -> allocator.free(b), "double free is refused");
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetriesOnce() {
        FakeMemory memory = new FakeMemory(3 << 20);
        CachingAllocator allocator = new CachingAllocator("fake", memory, true);
        CachingAllocator.Block big = allocator.allocate(2 << 20, s1);
        allocator.free(big);
        CachingAllocator.Block other = allocator.allocate(2 << 20, s2); // only fits once the cached block is returned
        assertEquals(1, memory.synchronizations);
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> allocator.allocate(2 << 20, s1));
        assertTrue(e.getMessage().contains("out of memory"), e.getMessage());
        allocator.free(other);
        allocator.emptyCache();
        assertTrue(memory.live.isEmpty());
    }

    @Test
    void withoutCachingSizesAreExactAndFreesImmediate() {
        FakeMemory memory = new FakeMemory(1 << 20);
        CachingAllocator allocator = new CachingAllocator("fake", memory, false);
        CachingAllocator.Block a = allocator.allocate(13, s1);
        assertEquals(13, a.size());
        allocator.free(a);
        assertTrue(memory.live.isEmpty());
    }
}
