package dev.gatun.bench.serve;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Random;
import java.util.stream.Stream;

/**
 * A running OpenAI-compatible server ({@code gatun serve}, or any other), driven as vLLM's
 * benchmark drives one: {@code POST /v1/completions} with {@code stream: true},
 * {@code stream_options.include_usage}, {@code max_tokens = outputLen}, {@code ignore_eos: true}
 * and temperature 0, each Server-Sent Event that carries text timed as it arrives. The prompt is
 * {@code inputLen} random lowercase letters and spaces (one token each for a byte-level
 * vocabulary, fewer for a BPE one); the token counts reported are the server's {@code usage}.
 */
final class HttpTarget implements Target {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI completions;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    HttpTarget(URI base) {
        String s = base.toString().replaceAll("/+$", "");
        completions = URI.create(s.endsWith("/v1") ? s + "/completions" : s + "/v1/completions");
    }

    @Override public String description() { return "server at " + completions; }

    @Override
    public RequestRecord send(long promptSeed, int inputLen, int outputLen) {
        ObjectNode body = JSON.createObjectNode().put("prompt", prompt(promptSeed, inputLen)).put("max_tokens", outputLen).put("stream", true)
                .put("ignore_eos", true).put("temperature", 0);
        body.putObject("stream_options").put("include_usage", true);
        HttpRequest request = HttpRequest.newBuilder(completions).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        long sent = System.nanoTime();
        try {
            HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
            try (Stream<String> lines = response.body()) {
                if (response.statusCode() != 200)
                    return RequestRecord.failed(sent, System.nanoTime(), inputLen, "HTTP " + response.statusCode() + ": " + String.join(" ", lines.toList()));
                return read(lines.iterator(), sent, inputLen);
            }
        } catch (IOException | UncheckedIOException e) {
            return RequestRecord.failed(sent, System.nanoTime(), inputLen, "connection: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return RequestRecord.failed(sent, System.nanoTime(), inputLen, "interrupted");
        }
    }

    /** Times every event carrying text until {@code [DONE]}; takes the token counts from the usage event. */
    private static RequestRecord read(Iterator<String> lines, long sent, int inputLen) {
        long[] chunks = new long[16];
        int n = 0, promptTokens = -1, outputTokens = -1;
        while (lines.hasNext()) {
            String line = lines.next();
            long now = System.nanoTime();
            if (!line.startsWith("data:")) continue; // blank separators and comments
            String data = line.substring(5).trim();
            if (data.equals("[DONE]")) {
                if (outputTokens < 0) return RequestRecord.failed(sent, now, inputLen, "the stream ended without a usage event");
                return new RequestRecord(sent, Arrays.copyOf(chunks, n), now, promptTokens, outputTokens, null);
            }
            JsonNode event;
            try {
                event = JSON.readTree(data);
            } catch (JacksonException e) {
                return RequestRecord.failed(sent, now, inputLen, "an event is not JSON: " + data);
            }
            if (event.has("error")) return RequestRecord.failed(sent, now, inputLen, "server error: " + event.get("error").path("message").asText());
            JsonNode usage = event.get("usage");
            if (usage != null && usage.isObject()) {
                promptTokens = usage.path("prompt_tokens").asInt(inputLen);
                outputTokens = usage.path("completion_tokens").asInt();
            }
            JsonNode choices = event.path("choices");
            if (choices.isArray() && !choices.isEmpty() && !choices.get(0).path("text").asText("").isEmpty()) {
                if (n == chunks.length) chunks = Arrays.copyOf(chunks, 2 * n);
                chunks[n++] = now;
            }
        }
        return RequestRecord.failed(sent, System.nanoTime(), inputLen, "the stream ended without data: [DONE]");
    }

    private static String prompt(long seed, int length) {
        Random random = new Random(seed);
        char[] text = new char[length];
        for (int i = 0; i < length; i++) {
            int c = random.nextInt(27);
            text[i] = c == 26 ? ' ' : (char) ('a' + c);
        }
        return new String(text);
    }

    @Override
    public void close() { client.close(); }
}
