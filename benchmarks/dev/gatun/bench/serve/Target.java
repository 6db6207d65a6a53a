package dev.gatun.bench.serve;

/** What the benchmark sends requests to: the engine in this process, or a server over HTTP. */
interface Target extends AutoCloseable {
    /** One line saying what is measured (model, device or URL). */
    String description();

    /**
     * Sends one request whose prompt of {@code inputLen} tokens is drawn from a generator seeded
     * with {@code promptSeed}, asking for exactly {@code outputLen} tokens (no stop at EOS), and
     * returns what the client saw. Failures are returned in the record, not thrown.
     */
    RequestRecord send(long promptSeed, int inputLen, int outputLen);

    @Override
    void close();
}
