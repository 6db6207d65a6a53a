package dev.gatun.bench.serve;

/**
 * What the client saw of one request, in {@link System#nanoTime()} nanoseconds: when it was sent,
 * when each streamed chunk arrived (a token in process, a Server-Sent Event carrying text over
 * HTTP), when the stream ended, the prompt and output token counts, and the failure (null when it
 * succeeded).
 */
record RequestRecord(long sentNanos, long[] chunkNanos, long endNanos, int promptTokens, int outputTokens, String error) {
    RequestRecord {
        chunkNanos = chunkNanos.clone();
    }

    static RequestRecord failed(long sentNanos, long endNanos, int promptTokens, String error) {
        return new RequestRecord(sentNanos, new long[0], endNanos, promptTokens, 0, error);
    }

    /** Succeeded and streamed something: the requests vLLM's benchmark counts as completed. */
    boolean completed() { return error == null && chunkNanos.length > 0; }
}
