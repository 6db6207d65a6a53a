package dev.gatun.server;

import dev.gatun.llm.engine.LatencyStats;
import dev.gatun.llm.engine.Metrics;

import java.util.Locale;

/**
 * {@link Metrics} in the Prometheus text exposition format (version 0.0.4): gauges for the
 * engine's state, counters for its totals, and the two latency distributions as summaries
 * (quantiles 0.5, 0.9, 0.99 over the engine's recent window; {@code _sum} and {@code _count}
 * over all requests), in seconds.
 */
final class PrometheusText {
    private final StringBuilder out = new StringBuilder(2048);

    private PrometheusText() {}

    static String render(Metrics m, long httpRequests, long clientDisconnects) {
        PrometheusText p = new PrometheusText();
        p.sample("gatun_requests_running", "gauge", "Requests holding KV blocks (prefilling or decoding).", m.running());
        p.sample("gatun_requests_queued", "gauge", "Requests submitted and not running (waiting or preempted).", m.queued());
        p.sample("gatun_requests_submitted_total", "counter", "Requests accepted by the engine.", m.submitted());
        p.sample("gatun_requests_finished_total", "counter", "Requests finished, for any reason.", m.finished());
        p.sample("gatun_preemptions_total", "counter", "Sequences preempted (by recompute) to free KV blocks.", m.preemptions());
        p.sample("gatun_engine_steps_total", "counter", "Forward passes run.", m.steps());
        p.sample("gatun_kv_usage_ratio", "gauge", "Fraction of the KV cache blocks used by running requests.", m.kvUsage());
        p.sample("gatun_kv_blocks_used", "gauge", "KV cache blocks used by running requests.", m.usedBlocks());
        p.sample("gatun_kv_blocks_cached", "gauge", "Unreferenced KV cache blocks kept for prefix reuse.", m.cachedBlocks());
        p.sample("gatun_kv_blocks_total", "gauge", "KV cache blocks in the pool.", m.totalBlocks());
        p.sample("gatun_prefix_cache_hit_ratio", "gauge", "Full prompt blocks found in the prefix cache / looked up.", m.prefixHitRate());
        p.sample("gatun_prompt_tokens_computed_total", "counter", "Prompt tokens computed by forward passes.", m.prefillTokens());
        p.sample("gatun_prompt_tokens_cached_total", "counter", "Prompt tokens taken from the prefix cache.", m.cachedPromptTokens());
        p.sample("gatun_generation_tokens_total", "counter", "Tokens sampled.", m.generatedTokens());
        p.sample("gatun_spec_decode_proposed_tokens_total", "counter", "Speculative tokens proposed and verified by the target.", m.proposedTokens());
        p.sample("gatun_spec_decode_accepted_tokens_total", "counter", "Speculative tokens the target accepted.", m.acceptedTokens());
        p.sample("gatun_spec_decode_acceptance_ratio", "gauge", "Accepted / proposed speculative tokens since the start.", m.acceptanceRate());
        p.summary("gatun_time_to_first_token_seconds", "Time from submission to a request's first token.", m.ttft());
        p.summary("gatun_inter_token_latency_seconds", "Time between consecutive tokens of a request.", m.interToken());
        p.sample("gatun_http_requests_total", "counter", "HTTP requests received by the server.", httpRequests);
        p.sample("gatun_http_client_disconnects_total", "counter", "Streaming clients that went away; their requests were cancelled.", clientDisconnects);
        return p.out.toString();
    }

    private void header(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(String name, String type, String help, double value) {
        header(name, type, help);
        out.append(name).append(' ').append(number(value)).append('\n');
    }

    private void summary(String name, String help, LatencyStats.Snapshot s) {
        header(name, "summary", help);
        long count = s == null ? 0 : s.count();
        double[] q = {0.5, 0.9, 0.99};
        double[] v = count == 0 ? new double[] {Double.NaN, Double.NaN, Double.NaN} : new double[] {s.p50Ms() / 1e3, s.p90Ms() / 1e3, s.p99Ms() / 1e3};
        for (int i = 0; i < q.length; i++)
            out.append(name).append("{quantile=\"").append(q[i]).append("\"} ").append(number(v[i])).append('\n');
        out.append(name).append("_sum ").append(number(count == 0 ? 0 : s.meanMs() * count / 1e3)).append('\n');
        out.append(name).append("_count ").append(count).append('\n');
    }

    private static String number(double v) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "+Inf" : "-Inf";
        if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
        return String.format(Locale.ROOT, "%.9g", v).trim();
    }
}
