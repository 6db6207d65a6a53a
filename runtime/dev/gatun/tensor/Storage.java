package dev.gatun.tensor;

import dev.gatun.device.CachingAllocator;
import dev.gatun.device.Device;

import java.util.concurrent.atomic.AtomicInteger;

/** Device memory shared by a tensor and its views; returned to the allocator when the last one closes. */
final class Storage {
    private final Device device;
    private final CachingAllocator.Block block;
    private final AtomicInteger references = new AtomicInteger(1);

    Storage(Device device, long bytes) {
        this.device = device;
        this.block = device.allocator().allocate(bytes, device.defaultStream());
    }

    Device device() { return device; }

    long address() {
        if (references.get() <= 0) throw new IllegalStateException("tensor memory used after it was freed");
        return block.address();
    }

    void retain() {
        if (references.getAndIncrement() <= 0) throw new IllegalStateException("view of a tensor that was already freed");
    }

    void release() {
        if (references.decrementAndGet() == 0) device.allocator().free(block);
    }
}
