package dev.gatun.device;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching device allocator: sizes are rounded to classes, freed blocks are kept per stream and
 * handed out again to allocations on that same stream (stream order makes that safe without an
 * event), and the device's own allocator is called only on a miss. When the device runs out of
 * memory the cache is emptied and the allocation retried once.
 *
 * <p>The allocator owns every block it returns until {@link #free} gives it back. With caching off
 * ({@code -Dgatun.allocator.caching=false}, used by the ASan suite) sizes are exact and frees
 * immediate, so an out-of-bounds access lands in a sanitizer redzone.
 */
public final class CachingAllocator {
    /** What the device itself provides. */
    public interface RawMemory {
        /** Returns an address, or 0 when the device is out of memory. */
        long allocate(long bytes);

        void free(long address);

        /** Waits for all queued work, so cached blocks can be given back safely. */
        void synchronize();
    }

    /** A block of device memory owned by this allocator until freed. */
    public static final class Block {
        private final long address, size;
        private final Stream stream;
        private boolean live = true;

        private Block(long address, long size, Stream stream) {
            this.address = address;
            this.size = size;
            this.stream = stream;
        }

        public long address() { return address; }

        public long size() { return size; }

        public Stream stream() { return stream; }
    }

    /** Bytes handed out and not yet freed, the most ever, bytes cached for reuse, and counts. */
    public record Stats(long inUseBytes, long peakInUseBytes, long cachedBytes, long deviceAllocations, long cacheHits) {}

    private static final long SMALL_LIMIT = 1 << 20, SMALL_QUANTUM = 512;

    private final String deviceName;
    private final RawMemory raw;
    private final boolean caching;
    private final Map<Stream, TreeMap<Long, ArrayDeque<Block>>> cache = new HashMap<>();
    private long inUse, peak, cached, deviceAllocations, cacheHits;

    public CachingAllocator(String deviceName, RawMemory raw, boolean caching) {
        this.deviceName = deviceName;
        this.raw = raw;
        this.caching = caching;
    }

    /** Whether caching is on unless {@code -Dgatun.allocator.caching=false}. */
    public static boolean cachingByDefault() {
        return !"false".equalsIgnoreCase(System.getProperty("gatun.allocator.caching"));
    }

    /**
     * The size class of a request: multiples of 512 B below 1 MiB, above that four classes per power
     * of two (at most 25% slack). Zero-byte requests still get a real, distinct address.
     */
    public static long sizeClass(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        if (bytes <= SMALL_LIMIT) return Math.max(SMALL_QUANTUM, (bytes + SMALL_QUANTUM - 1) / SMALL_QUANTUM * SMALL_QUANTUM);
        long step = Long.highestOneBit(bytes) >> 2;
        return (bytes + step - 1) / step * step;
    }

    public synchronized Block allocate(long bytes, Stream stream) {
        long size = caching ? sizeClass(bytes) : Math.max(1, bytes);
        Block block = caching ? takeCached(stream, size) : null;
        if (block != null) {
            cacheHits++;
            block.live = true;
        } else {
            block = new Block(allocateRaw(size, bytes), size, stream);
            deviceAllocations++;
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        return block;
    }

    public synchronized void free(Block block) {
        if (!block.live) throw new IllegalStateException(deviceName + ": block at 0x" + Long.toHexString(block.address) + " freed twice");
        block.live = false;
        inUse -= block.size;
        if (!caching) {
            raw.free(block.address);
            return;
        }
        cache.computeIfAbsent(block.stream, s -> new TreeMap<>())
                .computeIfAbsent(block.size, s -> new ArrayDeque<>()).push(block);
        cached += block.size;
    }

    /** Gives every cached block back to the device. */
    public synchronized void emptyCache() {
        if (cached == 0) return;
        raw.synchronize();
        for (TreeMap<Long, ArrayDeque<Block>> bySize : cache.values())
            for (ArrayDeque<Block> blocks : bySize.values())
                for (Block b : blocks) raw.free(b.address);
        cache.clear();
        cached = 0;
    }

    public synchronized Stats stats() {
        return new Stats(inUse, peak, cached, deviceAllocations, cacheHits);
    }

    private Block takeCached(Stream stream, long size) {
        TreeMap<Long, ArrayDeque<Block>> bySize = cache.get(stream);
        ArrayDeque<Block> blocks = bySize == null ? null : bySize.get(size);
        if (blocks == null || blocks.isEmpty()) return null;
        cached -= size;
        return blocks.pop();
    }

    private long allocateRaw(long size, long requested) {
        long address = raw.allocate(size);
        if (address == 0 && cached > 0) {
            emptyCache();
            address = raw.allocate(size);
        }
        if (address == 0)
            throw new DeviceOutOfMemoryException(deviceName + " is out of memory: tried to allocate " + requested
                    + " bytes with " + inUse + " bytes in use and nothing left to give back from the cache");
        return address;
    }
}
