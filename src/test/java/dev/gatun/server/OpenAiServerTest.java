package dev.gatun.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.device.Devices;
import dev.gatun.llm.ByteTokenizer;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.Metrics;
import dev.gatun.llm.engine.TinyModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible server on loopback (ephemeral port) over the engine with a tiny random
 * Llama (vocab 300: bytes + placeholder specials) on the cpu device, driven by
 * {@link HttpClient}: answers against the one-request-at-a-time greedy reference, streaming,
 * chat, stop strings, the small endpoints, every kind of refusal, and a bounded load test with
 * clients that go away mid-stream.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class OpenAiServerTest {
    static final int VOCAB = 300, CONTEXT = 256, MAX_TOKENS = 200;
    static final String KEY = "sk-test-key", MODEL = "tiny";
    /** Greedy steps whose top-two logit margin is below this are near ties that batching may flip. */
    static final double NEAR_TIE = 1e-3;

    @TempDir static Path dir;
    static Path modelDir;
    static LlamaModel referenceModel;
    static Engine engine;
    static Tokenizer tokenizer;
    static OpenAiServer server;
    static HttpClient client;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() throws Exception {
        LlamaConfig config = TinyModels.config(VOCAB, CONTEXT);
        modelDir = TinyModels.write(Files.createDirectories(dir.resolve("tiny")), config, 42);
        referenceModel = LlamaModel.load(modelDir, Devices.get("cpu"));
        engine = new Engine(LlamaModel.load(modelDir, Devices.get("cpu")), Engine.Config.of(512).withBatch(512, 64));
        List<String> specials = new ArrayList<>();
        for (int id = 256; id < VOCAB; id++) specials.add("<|id_" + id + "|>");
        tokenizer = new ByteTokenizer(specials);
        server = OpenAiServer.start(engine, tokenizer, MODEL, OpenAiServer.Options.defaults().withPort(0).withApiKey(KEY)
                .withMaxBodyBytes(16 * 1024).withMaxTokens(MAX_TOKENS).withMaxPromptTokens(200));
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
        if (referenceModel != null) referenceModel.close();
    }

    // ---- helpers ----

    record Reply(int status, JsonNode body, String text) {}

    static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(server.baseUri().resolve(path)).timeout(Duration.ofMinutes(2)).header("Authorization", "Bearer " + KEY);
    }

    static Reply post(String path, String body) throws Exception {
        return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    static Reply get(String path) throws Exception { return send(request(path).GET().build()); }

    static Reply send(HttpRequest r) throws Exception {
        HttpResponse<String> resp = client.send(r, HttpResponse.BodyHandlers.ofString());
        JsonNode body = null;
        if (resp.headers().firstValue("Content-Type").orElse("").startsWith("application/json")) body = JSON.readTree(resp.body());
        return new Reply(resp.statusCode(), body, resp.body());
    }

    static String json(Object... kv) throws Exception {
        ObjectNode o = JSON.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) o.set((String) kv[i], JSON.valueToTree(kv[i + 1]));
        return JSON.writeValueAsString(o);
    }

    /** The greedy continuation of {@code text} decoded (special tokens left out), checked free of near ties. */
    static String reference(String text, int steps) {
        TinyModels.Reference ref = TinyModels.greedy(referenceModel, tokenizer.encode(text), steps);
        for (int i = 0; i < steps; i++)
            assertTrue(ref.margins()[i] >= NEAR_TIE, "prompt " + text + ": greedy step " + i + " is a near tie (" + ref.margins()[i] + "); pick another prompt");
        return tokenizer.decode(ref.tokens(), true);
    }

    /** The SSE "data:" payloads of a streamed response, in order. */
    static List<String> events(InputStream in) throws IOException {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty()) continue;
                assertTrue(line.startsWith("data: "), "not an SSE data line: " + line);
                out.add(line.substring(6));
            }
        }
        return out;
    }

    /** Streams a request; returns the concatenated text and checks the event structure. */
    static String streamed(String path, String body, boolean chat, String finish) throws Exception {
        HttpResponse<InputStream> resp = client.send(request(path).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, resp.statusCode());
        assertTrue(resp.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> events = events(resp.body());
        assertEquals("[DONE]", events.getLast(), "the stream ends with [DONE]");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < events.size() - 1; i++) {
            JsonNode c = JSON.readTree(events.get(i));
            assertEquals(chat ? "chat.completion.chunk" : "text_completion", c.get("object").asText());
            assertEquals(MODEL, c.get("model").asText());
            if (c.get("choices").isEmpty()) continue; // the usage chunk
            JsonNode choice = c.get("choices").get(0);
            boolean last = i == events.size() - 2 || (i == events.size() - 3 && JSON.readTree(events.get(i + 1)).get("choices").isEmpty());
            if (last) assertEquals(finish, choice.get("finish_reason").asText(), events.get(i));
            else assertTrue(choice.get("finish_reason").isNull(), "finish_reason is null until the last chunk: " + events.get(i));
            text.append(chat ? choice.path("delta").path("content").asText("") : choice.get("text").asText());
        }
        return text.toString();
    }

    static void assertError(Reply r, int status, String messagePart) {
        assertEquals(status, r.status(), r.text());
        assertTrue(r.body() != null && r.body().has("error"), "an OpenAI error object: " + r.text());
        JsonNode e = r.body().get("error");
        assertTrue(e.get("message").isTextual() && e.has("type") && e.has("param") && e.has("code"), r.text());
        assertTrue(e.get("message").asText().contains(messagePart), "'" + messagePart + "' in " + e.get("message").asText());
    }

    /** A good request still works. */
    static void stillServing() throws Exception {
        Reply r = post("/v1/completions", json("model", MODEL, "prompt", "Hi", "max_tokens", 2, "temperature", 0));
        assertEquals(200, r.status(), r.text());
    }

    // ---- tests ----

    @Test
    void completionIsTheGreedyContinuation() throws Exception {
        String prompt = "Hello, Gatun";
        Reply r = post("/v1/completions", json("model", MODEL, "prompt", prompt, "max_tokens", 24, "temperature", 0));
        assertEquals(200, r.status(), r.text());
        JsonNode b = r.body();
        assertEquals("text_completion", b.get("object").asText());
        assertTrue(b.get("id").asText().startsWith("cmpl-"));
        assertTrue(b.get("created").asLong() > 0);
        assertEquals(MODEL, b.get("model").asText());
        JsonNode choice = b.get("choices").get(0);
        assertEquals(0, choice.get("index").asInt());
        assertEquals(reference(prompt, 24), choice.get("text").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        int promptTokens = tokenizer.encode(prompt).length;
        assertEquals(promptTokens, b.get("usage").get("prompt_tokens").asInt());
        assertEquals(24, b.get("usage").get("completion_tokens").asInt());
        assertEquals(promptTokens + 24, b.get("usage").get("total_tokens").asInt());
    }

    @Test
    void streamedChunksConcatenateToTheSameText() throws Exception {
        String prompt = "Once upon a time";
        String text = streamed("/v1/completions", json("model", MODEL, "prompt", prompt, "max_tokens", 20, "temperature", 0, "stream", true), false, "length");
        assertEquals(reference(prompt, 20), text);

        // stream_options.include_usage adds a usage chunk before [DONE]
        HttpResponse<String> resp = client.send(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(json("prompt", prompt, "max_tokens", 5,
                "temperature", 0, "stream", true, "stream_options", Map.of("include_usage", true)))).build(), HttpResponse.BodyHandlers.ofString());
        List<String> events = events(new java.io.ByteArrayInputStream(resp.body().getBytes(StandardCharsets.UTF_8)));
        JsonNode usage = JSON.readTree(events.get(events.size() - 2)).get("usage");
        assertEquals(5, usage.get("completion_tokens").asInt(), resp.body());
    }

    @Test
    void chatCompletionRendersTheSimpleTemplate() throws Exception {
        List<Map<String, String>> messages = List.of(Map.of("role", "system", "content", "Be brief."), Map.of("role", "user", "content", "Hi there"));
        String rendered = "<|system|>\nBe brief.\n<|user|>\nHi there\n<|assistant|>\n";
        assertEquals(rendered, ChatTemplate.render(List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("user", "Hi there"))));
        String expected = reference(rendered, 16);

        Reply r = post("/v1/chat/completions", json("model", MODEL, "messages", messages, "max_tokens", 16, "temperature", 0));
        assertEquals(200, r.status(), r.text());
        assertEquals("chat.completion", r.body().get("object").asText());
        JsonNode choice = r.body().get("choices").get(0);
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertEquals(expected, choice.get("message").get("content").asText());
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(tokenizer.encode(rendered).length, r.body().get("usage").get("prompt_tokens").asInt());

        // max_completion_tokens, content as text parts, streaming
        List<Map<String, Object>> parts = List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "Hi "), Map.of("type", "text", "text", "there"))));
        assertEquals(expected, streamed("/v1/chat/completions", json("messages", parts, "max_completion_tokens", 16, "temperature", 0, "stream", true), true, "length"));

        // an assistant turn without content renders as an empty turn
        List<Map<String, String>> turns = List.of(Map.of("role", "user", "content", "Hi"), Map.of("role", "assistant"), Map.of("role", "user", "content", "Hi there"));
        Reply withEmptyTurn = post("/v1/chat/completions", json("messages", turns, "max_tokens", 4, "temperature", 0));
        assertEquals(200, withEmptyTurn.status(), withEmptyTurn.text());
        assertEquals(tokenizer.encode("<|user|>\nHi\n<|assistant|>\n\n<|user|>\nHi there\n<|assistant|>\n").length,
                withEmptyTurn.body().get("usage").get("prompt_tokens").asInt());
    }

    @Test
    void ignoreEosGeneratesThroughTheModelsEosToken() throws Exception {
        String prompt = "Hello, Gatun";
        int eos = TinyModels.greedy(referenceModel, tokenizer.encode(prompt), 1).tokens()[0]; // the first greedy token plays EOS
        try (OpenAiServer eosServer = OpenAiServer.start(engine, tokenizer, MODEL, OpenAiServer.Options.defaults().withPort(0)
                .withMaxTokens(MAX_TOKENS).withEosTokens(eos))) {
            String url = eosServer.baseUri().resolve("/v1/completions").toString();
            Reply stopped = send(HttpRequest.newBuilder(java.net.URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(
                    json("prompt", prompt, "max_tokens", 12, "temperature", 0))).build());
            assertEquals("stop", stopped.body().get("choices").get(0).get("finish_reason").asText(), stopped.text());
            assertEquals(1, stopped.body().get("usage").get("completion_tokens").asInt(), stopped.text());
            Reply through = send(HttpRequest.newBuilder(java.net.URI.create(url)).POST(HttpRequest.BodyPublishers.ofString(
                    json("prompt", prompt, "max_tokens", 12, "temperature", 0, "ignore_eos", true))).build());
            assertEquals("length", through.body().get("choices").get(0).get("finish_reason").asText(), through.text());
            assertEquals(12, through.body().get("usage").get("completion_tokens").asInt(), through.text());
            assertEquals(reference(prompt, 12), through.body().get("choices").get(0).get("text").asText());
        }
    }

    @Test
    void stopStringsTrimTheOutput() throws Exception {
        String prompt = "The quick brown fox";
        String full = reference(prompt, 30);
        String stop = full.substring(8, 10);
        String expected = full.substring(0, full.indexOf(stop));
        Reply r = post("/v1/completions", json("prompt", prompt, "max_tokens", 30, "temperature", 0, "stop", stop));
        assertEquals(200, r.status(), r.text());
        assertEquals(expected, r.body().get("choices").get(0).get("text").asText());
        assertEquals("stop", r.body().get("choices").get(0).get("finish_reason").asText());
        assertTrue(r.body().get("usage").get("completion_tokens").asInt() < 30, r.text());

        assertEquals(expected, streamed("/v1/completions", json("prompt", prompt, "max_tokens", 30, "temperature", 0, "stop", List.of("never-there", stop), "stream", true),
                false, "stop"));
    }

    @Test
    void healthModelsAndMetrics() throws Exception {
        HttpResponse<String> health = client.send(HttpRequest.newBuilder(server.baseUri().resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "/health needs no key");
        assertEquals("ok", JSON.readTree(health.body()).get("status").asText());

        Reply models = get("/v1/models");
        assertEquals(200, models.status());
        assertEquals("list", models.body().get("object").asText());
        assertEquals(1, models.body().get("data").size());
        assertEquals(MODEL, models.body().get("data").get(0).get("id").asText());
        assertEquals("model", models.body().get("data").get(0).get("object").asText());
        assertEquals(MODEL, get("/v1/models/" + MODEL).body().get("id").asText());
        assertError(get("/v1/models/other"), 404, "does not exist");

        stillServing(); // something for the latency summaries
        Reply metrics = get("/metrics");
        assertEquals(200, metrics.status());
        Map<String, Double> samples = new HashMap<>();
        Pattern line = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");
        for (String l : metrics.text().split("\n")) {
            if (l.startsWith("#")) {
                assertTrue(l.startsWith("# HELP ") || l.startsWith("# TYPE "), l);
                continue;
            }
            Matcher m = line.matcher(l);
            assertTrue(m.matches(), "not a Prometheus sample: " + l);
            samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
        }
        for (String name : List.of("gatun_requests_running", "gatun_requests_queued", "gatun_preemptions_total", "gatun_kv_usage_ratio",
                "gatun_prefix_cache_hit_ratio", "gatun_time_to_first_token_seconds_count", "gatun_time_to_first_token_seconds{quantile=\"0.5\"}",
                "gatun_inter_token_latency_seconds{quantile=\"0.99\"}", "gatun_inter_token_latency_seconds_sum"))
            assertTrue(samples.containsKey(name), name + " in\n" + metrics.text());
        assertTrue(samples.get("gatun_time_to_first_token_seconds_count") >= 1);
        assertTrue(samples.get("gatun_time_to_first_token_seconds{quantile=\"0.5\"}") > 0);
        assertTrue(metrics.text().contains("# TYPE gatun_time_to_first_token_seconds summary"));
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        assertError(post("/v1/completions", "{\"prompt\": "), 400, "not valid JSON");
        assertError(post("/v1/completions", "[1, 2]"), 400, "JSON object");
        assertError(post("/v1/completions", ""), 400, "empty");
        assertError(post("/v1/completions", "{\"prompt\": \"x\"} trailing"), 400, "not valid JSON");
        stillServing();
        assertError(post("/v1/completions", json("prompt", 5)), 400, "'prompt' must be a string");
        assertError(post("/v1/completions", json("prompt", "x", "max_tokens", "ten")), 400, "'max_tokens' must be an integer");
        assertError(post("/v1/completions", json("prompt", "x", "max_tokens", 2.5)), 400, "'max_tokens' must be an integer");
        assertError(post("/v1/completions", json("prompt", "x", "temperature", "hot")), 400, "'temperature' must be a number");
        assertError(post("/v1/completions", json("prompt", "x", "temperature", -1)), 400, "'temperature' must be a finite number >= 0");
        Reply huge = post("/v1/completions", "{\"prompt\": \"x\", \"temperature\": 1e40}");
        assertError(huge, 400, "got 1.0E40");
        assertEquals("temperature", huge.body().get("error").get("param").asText());
        assertError(post("/v1/completions", json("prompt", "x", "top_p", 0)), 400, "'top_p'");
        assertError(post("/v1/completions", json("prompt", "x", "stream", "yes")), 400, "'stream' must be true or false");
        assertError(post("/v1/completions", json("prompt", "x", "stop", List.of(1, 2))), 400, "'stop'");
        assertError(post("/v1/completions", json("prompt", "x", "n", 2)), 400, "n = 1");
        assertError(post("/v1/completions", json("max_tokens", 3)), 400, "'prompt' is required");
        assertError(post("/v1/chat/completions", json("messages", "hi")), 400, "'messages' must be a list");
        assertError(post("/v1/chat/completions", json("messages", List.of(Map.of("role", "wizard", "content", "x")))), 400, "messages[0].role");
        assertError(post("/v1/chat/completions", json("messages", List.of(Map.of("role", "user")))), 400, "'messages[0].content' is required");
        assertError(post("/v1/chat/completions", json("prompt", "x")), 400, "'messages' is required");
        Reply unknown = post("/v1/completions", json("model", "gpt-4", "prompt", "x"));
        assertError(unknown, 404, "does not exist");
        assertEquals("model_not_found", unknown.body().get("error").get("code").asText());
        stillServing();

        // limits
        assertError(post("/v1/completions", json("prompt", "x".repeat(20_000))), 413, "larger than");
        assertError(post("/v1/completions", json("prompt", "x", "max_tokens", MAX_TOKENS + 1)), 400, "limit of " + MAX_TOKENS);
        assertError(post("/v1/completions", json("prompt", "x".repeat(201))), 400, "limit of 200");
        Reply overflow = post("/v1/completions", json("prompt", "x".repeat(150), "max_tokens", 150));
        assertError(overflow, 400, "exceeds the model's context");
        assertEquals("context_length_exceeded", overflow.body().get("error").get("code").asText());
        // the limits are inclusive: a prompt of exactly the limit whose max_tokens exactly fill the context
        String longest = "x".repeat(200);
        assertEquals(200, tokenizer.encode(longest).length);
        Reply fits = post("/v1/completions", json("prompt", longest, "max_tokens", CONTEXT - 200, "temperature", 0, "ignore_eos", true));
        assertEquals(200, fits.status(), fits.text());
        assertEquals(CONTEXT - 200, fits.body().get("usage").get("completion_tokens").asInt());
        assertError(post("/v1/completions", json("prompt", longest, "max_tokens", CONTEXT - 200 + 1)), 400, "exceeds the model's context");
        Reply most = post("/v1/completions", json("prompt", "x", "max_tokens", MAX_TOKENS, "temperature", 0, "ignore_eos", true));
        assertEquals(200, most.status(), most.text());
        assertEquals(MAX_TOKENS, most.body().get("usage").get("completion_tokens").asInt());
        stillServing();

        // API key, unknown paths, wrong methods
        HttpRequest noKey = HttpRequest.newBuilder(server.baseUri().resolve("/v1/models")).build();
        assertError(send(noKey), 401, "missing API key");
        HttpRequest wrongKey = HttpRequest.newBuilder(server.baseUri().resolve("/v1/completions")).header("Authorization", "Bearer nope")
                .POST(HttpRequest.BodyPublishers.ofString(json("prompt", "x"))).build();
        Reply wrong = send(wrongKey);
        assertError(wrong, 401, "incorrect API key");
        assertEquals("invalid_api_key", wrong.body().get("error").get("code").asText());
        assertError(get("/v2/nothing"), 404, "no such endpoint");
        assertError(get("/v1/completions"), 405, "takes POST");
        stillServing();
    }

    @Test
    void concurrentStreamsWithClientsThatGoAway() throws Exception {
        int tokens = 32, clients = 32;
        // four prompts whose greedy continuations have no near tie (those may flip in a batch)
        List<String> chosen = new ArrayList<>();
        for (String candidate : List.of("alpha beta", "Hello, Gatun", "Once upon a time", "1 2 3 4", "Gatun serves", "The sea", "zebra", "Panama canal")) {
            if (chosen.size() == 4) break;
            if (Arrays.stream(TinyModels.greedy(referenceModel, tokenizer.encode(candidate), tokens).margins()).allMatch(x -> x >= NEAR_TIE)) chosen.add(candidate);
        }
        assertEquals(4, chosen.size(), "prompts without near ties: " + chosen);
        String[] prompts = chosen.toArray(String[]::new);
        String[] expected = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++) expected[i] = reference(prompts[i], tokens);
        long disconnectsBefore = server.clientDisconnects();
        long finishedBefore = engine.metrics().finished();

        List<Future<String>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                int p = c % prompts.length;
                boolean leaves = c % 4 == 3;
                results.add(pool.submit(() -> {
                    String body = json("model", MODEL, "prompt", prompts[p], "max_tokens", leaves ? MAX_TOKENS - 20 : tokens, "temperature", 0, "stream", true);
                    if (!leaves) return streamed("/v1/completions", body, false, "length");
                    HttpResponse<InputStream> resp = client.send(request("/v1/completions").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    assertEquals(200, resp.statusCode());
                    BufferedReader r = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8));
                    String first = r.readLine();
                    assertTrue(first != null && first.startsWith("data: "), "first event: " + first);
                    resp.body().close(); // go away mid-stream
                    return null;
                }));
            }
        }
        for (int c = 0; c < clients; c++) {
            String text = results.get(c).get();
            if (c % 4 != 3) assertEquals(expected[c % prompts.length], text, "client " + c + " (prompt '" + prompts[c % prompts.length] + "')");
        }

        // every request finished (answered or cancelled) and no KV block is held
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Metrics m = engine.metrics();
        while (System.nanoTime() < deadline && !(m.running() == 0 && m.queued() == 0 && m.usedBlocks() == 0 && server.activeRequests() == 0
                && m.finished() - finishedBefore >= clients)) {
            Thread.sleep(20);
            m = engine.metrics();
        }
        assertEquals(0, m.running(), m.toString());
        assertEquals(0, m.queued(), m.toString());
        assertEquals(0, m.usedBlocks(), "KV blocks still in use: " + m);
        assertEquals(m.submitted(), m.finished(), m.toString());
        assertEquals(0, server.activeRequests());
        assertTrue(m.finished() - finishedBefore >= clients, m.toString());
        long gone = server.clientDisconnects() - disconnectsBefore;
        // usually all of them; a leaving client whose stream ended before its close was noticed was simply answered
        assertTrue(gone >= 1 && gone <= clients / 4, "clients that went away, as the server saw them: " + gone);
        assertTrue(m.generatedTokens() > 0);
        stillServing();
    }
}
