package dev.gatun.llm.engine;

/**
 * A snapshot of an engine's state and counters.
 *
 * @param queued             requests submitted and not running (not yet admitted, or preempted)
 * @param running            sequences holding KV blocks (prefilling or decoding)
 * @param submitted          requests accepted since the start
 * @param finished           requests finished since the start (any reason)
 * @param preemptions        sequences preempted (by recompute) to free KV blocks
 * @param steps              forward passes run
 * @param usedBlocks         KV blocks referenced by running sequences
 * @param cachedBlocks       unreferenced KV blocks kept for prefix reuse (evictable)
 * @param totalBlocks        KV blocks in the pool
 * @param prefixHitRate      full prompt blocks found in the prefix cache / full prompt blocks looked up
 * @param prefillTokens      prompt tokens computed by forward passes (recomputation included)
 * @param cachedPromptTokens prompt tokens taken from the prefix cache instead of computed
 * @param generatedTokens    tokens sampled
 * @param proposedTokens     speculative tokens verified by the target (0 without speculation)
 * @param acceptedTokens     of those, the ones the target accepted
 * @param ttft               time to first token, from submission
 * @param interToken         time between consecutive tokens of a request
 */
public record Metrics(int queued, int running, long submitted, long finished, long preemptions, long steps,
                      int usedBlocks, int cachedBlocks, int totalBlocks, double prefixHitRate,
                      long prefillTokens, long cachedPromptTokens, long generatedTokens, long proposedTokens, long acceptedTokens,
                      LatencyStats.Snapshot ttft, LatencyStats.Snapshot interToken) {
    /** Fraction of the KV pool in use by running sequences. */
    public double kvUsage() { return totalBlocks == 0 ? 0 : (double) usedBlocks / totalBlocks; }

    /** Accepted / proposed speculative tokens; 0 before any was proposed. */
    public double acceptanceRate() { return proposedTokens == 0 ? 0 : (double) acceptedTokens / proposedTokens; }

    @Override
    public String toString() {
        return String.format("queued=%d running=%d submitted=%d finished=%d preemptions=%d steps=%d kv=%d/%d used (%d cached) prefix-hit=%.1f%% "
                        + "prefill=%d cached=%d generated=%d speculative=%d/%d accepted ttft[%s] itl[%s]", queued, running, submitted, finished, preemptions, steps,
                usedBlocks, totalBlocks, cachedBlocks, 100 * prefixHitRate, prefillTokens, cachedPromptTokens, generatedTokens, acceptedTokens, proposedTokens,
                ttft, interToken);
    }
}
