package dev.gatun.kv;

/** No KV block is left for a sequence's next token: the scheduler preempts a sequence and retries. */
public final class OutOfBlocksException extends RuntimeException {
    private final long sequence;

    public OutOfBlocksException(long sequence) {
        super("no free KV block for sequence " + sequence);
        this.sequence = sequence;
    }

    public long sequence() { return sequence; }
}
