package dev.gatun.device;

import java.lang.foreign.MemorySegment;

/**
 * A place where tensors live and ops run: {@link CudaDevice}, {@link EmuDevice} or {@link CpuDevice}.
 * Devices are process-wide; get them from {@link Devices}. Memory is addressed by {@code long}
 * device addresses; on cpu and emu those are host addresses.
 */
public abstract sealed class Device permits CudaDevice, HostDevice {
    private final CachingAllocator allocator;

    protected Device(CachingAllocator.RawMemory raw) {
        this.allocator = new CachingAllocator(getClass().getSimpleName(), raw, CachingAllocator.cachingByDefault());
    }

    public abstract DeviceKind kind();

    /** One line: what this device is (model, ISA, threads, build). */
    public abstract String description();

    public final CachingAllocator allocator() { return allocator; }

    /** Whether Java may read and write this device's memory directly. */
    public abstract boolean hostAccessible();

    public abstract Stream defaultStream();

    public abstract Stream newStream();

    public abstract Event newEvent();

    /** Waits for all work on all streams of this device. */
    public abstract void synchronize();

    /** Copies {@code bytes} from host memory to device address {@code dst}, ordered on {@code stream}. */
    public abstract void copyFromHost(MemorySegment src, long dst, long bytes, Stream stream);

    /** Copies {@code bytes} from device address {@code src} to host memory, ordered on {@code stream}. */
    public abstract void copyToHost(long src, MemorySegment dst, long bytes, Stream stream);

    public abstract void copyOnDevice(long src, long dst, long bytes, Stream stream);

    /** Sets {@code bytes} bytes at {@code dst} to {@code value}. */
    public abstract void fill(long dst, byte value, long bytes, Stream stream);

    @Override
    public String toString() { return kind().id(); }
}
