package dev.gatun.server;

import dev.gatun.llm.engine.LatencyStats;
import dev.gatun.llm.engine.Metrics;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every metric of a known snapshot, with its value, type and help, in the text exposition format. */
class PrometheusTextTest {
    @Test
    void everyMetricWithItsValue() {
        LatencyStats ttft = new LatencyStats();
        for (int i = 1; i <= 10; i++) ttft.record(i * 1_000_000L);  // 1 .. 10 ms
        Metrics m = new Metrics(3, 2, 40, 35, 1, 900, 12, 5, 64, 0.25, 5000, 700, 1234, 80, 60, ttft.snapshot(), new LatencyStats().snapshot());
        String text = PrometheusText.render(m, 77, 4);
        Map<String, String> samples = new LinkedHashMap<>();
        for (String line : text.split("\n"))
            if (!line.startsWith("#")) samples.put(line.substring(0, line.lastIndexOf(' ')), line.substring(line.lastIndexOf(' ') + 1));
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("gatun_requests_running", "2");
        expected.put("gatun_requests_queued", "3");
        expected.put("gatun_requests_submitted_total", "40");
        expected.put("gatun_requests_finished_total", "35");
        expected.put("gatun_preemptions_total", "1");
        expected.put("gatun_engine_steps_total", "900");
        expected.put("gatun_kv_usage_ratio", "0.187500000");
        expected.put("gatun_kv_blocks_used", "12");
        expected.put("gatun_kv_blocks_cached", "5");
        expected.put("gatun_kv_blocks_total", "64");
        expected.put("gatun_prefix_cache_hit_ratio", "0.250000000");
        expected.put("gatun_prompt_tokens_computed_total", "5000");
        expected.put("gatun_prompt_tokens_cached_total", "700");
        expected.put("gatun_generation_tokens_total", "1234");
        expected.put("gatun_spec_decode_proposed_tokens_total", "80");
        expected.put("gatun_spec_decode_accepted_tokens_total", "60");
        expected.put("gatun_spec_decode_acceptance_ratio", "0.750000000");
        expected.put("gatun_time_to_first_token_seconds{quantile=\"0.5\"}", "0.00500000000");
        expected.put("gatun_time_to_first_token_seconds{quantile=\"0.9\"}", "0.00900000000");
        expected.put("gatun_time_to_first_token_seconds{quantile=\"0.99\"}", "0.0100000000");
        expected.put("gatun_time_to_first_token_seconds_sum", "0.0550000000");
        expected.put("gatun_time_to_first_token_seconds_count", "10");
        expected.put("gatun_inter_token_latency_seconds{quantile=\"0.5\"}", "NaN");  // nothing recorded yet
        expected.put("gatun_inter_token_latency_seconds{quantile=\"0.9\"}", "NaN");
        expected.put("gatun_inter_token_latency_seconds{quantile=\"0.99\"}", "NaN");
        expected.put("gatun_inter_token_latency_seconds_sum", "0");
        expected.put("gatun_inter_token_latency_seconds_count", "0");
        expected.put("gatun_http_requests_total", "77");
        expected.put("gatun_http_client_disconnects_total", "4");
        assertEquals(expected, samples, text);
        for (String name : new String[] {"gatun_requests_submitted_total counter", "gatun_kv_usage_ratio gauge", "gatun_time_to_first_token_seconds summary"})
            assertTrue(text.contains("# TYPE " + name + "\n"), name + " in\n" + text);
        assertTrue(text.contains("# HELP gatun_http_client_disconnects_total Streaming clients that went away"), text);
    }
}
