package dev.gatun.device;

/** A point in a stream's work, used for timing (device time on cuda, host time on cpu and emu). */
public interface Event extends AutoCloseable {
    /** Marks this event at the current end of {@code stream}'s queued work. */
    void record(Stream stream);

    /** Blocks until the work before this event's record has finished. */
    void synchronize();

    /** Milliseconds between {@code start}'s record and this event's record (both synchronized first). */
    float elapsedMillisSince(Event start);

    @Override
    void close();
}
