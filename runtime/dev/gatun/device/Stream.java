package dev.gatun.device;

/**
 * An ordered queue of work on a device. On cpu and emu every operation completes before its call
 * returns, so their streams are host-ordered and synchronize() has nothing to wait for.
 */
public interface Stream extends AutoCloseable {
    Device device();

    /** Blocks until all work queued on this stream has finished. */
    void synchronize();

    /** Releases the stream (after its queued work); a device's default stream ignores this. */
    @Override
    void close();
}
