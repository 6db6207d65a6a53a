package dev.gatun.llm.engine;

import dev.gatun.ops.Sampling;

import java.time.Duration;
import java.util.Objects;

/**
 * A generation request: the prompt's token ids (the caller adds a BOS token if the model wants
 * one), sampling parameters (temperature 0 = greedy; {@link Sampling.Params} rejects bad values
 * itself), at most {@code maxNewTokens} new tokens, stop token ids (generation ends after one is
 * produced), and an optional timeout measured from submission (null = none). Checks that need the
 * model (vocabulary, context length, KV capacity) are made by {@link Engine#submit}.
 */
public record Request(int[] prompt, Sampling.Params params, int maxNewTokens, int[] stopTokens, Duration timeout) {
    public Request {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(params, "params");
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
        prompt = prompt.clone();
        if (prompt.length == 0) throw new IllegalArgumentException("request: the prompt is empty; it needs at least one token");
        if (maxNewTokens < 1) throw new IllegalArgumentException("request: maxNewTokens must be >= 1, got " + maxNewTokens);
        if (timeout != null && (timeout.isNegative() || timeout.isZero()))
            throw new IllegalArgumentException("request: the timeout must be positive, got " + timeout);
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens, no stop tokens, no timeout. */
    public static Request greedy(int[] prompt, int maxNewTokens) {
        return new Request(prompt, Sampling.Params.greedy(), maxNewTokens, null, null);
    }

    public Request withStopTokens(int... ids) { return new Request(prompt, params, maxNewTokens, ids, timeout); }

    public Request withTimeout(Duration t) { return new Request(prompt, params, maxNewTokens, stopTokens, t); }

    public Request withParams(Sampling.Params p) { return new Request(prompt, p, maxNewTokens, stopTokens, timeout); }

    @Override public int[] prompt() { return prompt.clone(); }

    @Override public int[] stopTokens() { return stopTokens.clone(); }

    /** The prompt without a copy, for the engine. */
    int[] promptArray() { return prompt; }

    boolean isStop(int token) {
        for (int s : stopTokens) if (s == token) return true;
        return false;
    }
}
