package dev.gatun.llm.engine;

import dev.gatun.ops.Sampling;

import java.util.Arrays;

/**
 * The engine thread's state of one request: its prompt and generated tokens, and how much of
 * them the KV cache holds. {@code kvLength} tokens are in the block manager (the prompt plus the
 * generated tokens appended so far), the first {@code computed} of them have their K/V written;
 * while {@code computed < kvLength} the sequence is prefilling; once they are equal the last
 * generated token is waiting to be fed (a decode). Touched only by the engine thread.
 */
final class Sequence {
    final long id;
    final RequestHandle handle;
    final Request request;
    final int[] prompt;
    final long submitNanos, deadlineNanos;
    private int[] generated = new int[16];
    private int generatedCount;
    int computed, kvLength;
    boolean admitted;
    /** Set while the scheduler builds a step: already in this step's batch. */
    boolean scheduled;
    /** Speculative tokens to verify in this step (after the last token), or null. */
    Proposer.Proposal proposal;
    int preemptions;
    /** Prompt tokens the prefix cache supplied at the first admission; -1 before it. */
    int cachedPromptTokens = -1;
    long lastTokenNanos;

    Sequence(long id, RequestHandle handle, Request request, long submitNanos) {
        this.id = id;
        this.handle = handle;
        this.request = request;
        this.prompt = request.promptArray();
        this.submitNanos = submitNanos;
        this.deadlineNanos = request.timeout() == null ? Long.MAX_VALUE : submitNanos + request.timeout().toNanos();
    }

    Sampling.Params params() { return request.params(); }

    int generatedCount() { return generatedCount; }

    int length() { return prompt.length + generatedCount; }

    int tokenAt(int position) { return position < prompt.length ? prompt[position] : generated[position - prompt.length]; }

    int lastToken() { return tokenAt(length() - 1); }

    /** Prompt and generated tokens: what a recomputing admission prefills. */
    int[] allTokens() {
        int[] all = Arrays.copyOf(prompt, length());
        System.arraycopy(generated, 0, all, prompt.length, generatedCount);
        return all;
    }

    int[] generated() { return Arrays.copyOf(generated, generatedCount); }

    void addGenerated(int token) {
        if (generatedCount == generated.length) generated = Arrays.copyOf(generated, 2 * generated.length);
        generated[generatedCount++] = token;
    }

    boolean isPrefilling() { return computed < kvLength; }
}
