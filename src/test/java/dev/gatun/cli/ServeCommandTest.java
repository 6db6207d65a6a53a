package dev.gatun.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
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
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code gatun serve} as a user runs it: a child JVM serving the tiny model, answering over HTTP
 * with its options applied, until it is stopped by SIGTERM (Ctrl-C's path: the shutdown hook
 * closes the server and the engine and deletes the tiny model's folder).
 */
class ServeCommandTest {
    static final Pattern BANNER = Pattern.compile("gatun: serving '(.+)' on .+ at (http://\\S+)/v1 \\((\\d+) KV blocks, API key required\\); Ctrl-C stops it");

    @TempDir Path temp;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void servesTheTinyModelUntilStopped() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + temp,
                "-cp", System.getProperty("java.class.path"), "dev.gatun.cli.Main", "serve", "--model", "tiny", "--device", "cpu", "--port", "0",
                "--api-key", "k3y", "--served-name", "little", "--max-tokens", "5", "--max-sequences", "2"));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            // the child's output, line by line, read on a virtual thread so that waiting for the banner has a deadline
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) lines.add(line);
                } catch (IOException ignored) {
                    // the child was stopped
                }
            });
            StringBuilder seen = new StringBuilder();
            Matcher banner = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (banner == null && System.nanoTime() < deadline) {
                String line = lines.poll(1, TimeUnit.SECONDS);
                if (line == null) continue;
                seen.append(line).append('\n');
                Matcher m = BANNER.matcher(line);
                if (m.find()) banner = m;
            }
            assertTrue(banner != null, "no serving banner; the child wrote:\n" + seen);
            assertEquals("little", banner.group(1));
            assertTrue(Integer.parseInt(banner.group(3)) >= 16, "KV blocks: " + banner.group(3));
            assertEquals(1, countTinyFolders(), "the tiny model's folder exists while serving");

            URI base = URI.create(banner.group(2));
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> health = client.send(HttpRequest.newBuilder(base.resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            HttpRequest.Builder completion = HttpRequest.newBuilder(base.resolve("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"little\", \"prompt\": \"hi\", \"max_tokens\": 5, \"temperature\": 0, \"ignore_eos\": true}"));
            assertEquals(401, client.send(completion.build(), HttpResponse.BodyHandlers.ofString()).statusCode(), "the API key is required");
            HttpResponse<String> answer = client.send(completion.header("Authorization", "Bearer k3y").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, answer.statusCode(), answer.body());
            JsonNode body = new ObjectMapper().readTree(answer.body());
            assertEquals(5, body.get("usage").get("completion_tokens").asInt());
            assertEquals("little", body.get("model").asText());
            HttpResponse<String> over = client.send(HttpRequest.newBuilder(base.resolve("/v1/completions")).header("Authorization", "Bearer k3y")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"hi\", \"max_tokens\": 6}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, over.statusCode(), "--max-tokens 5 is the server's limit: " + over.body());

            child.destroy(); // SIGTERM
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the server stops on SIGTERM");
            assertEquals(0, countTinyFolders(), "the shutdown hook deletes the tiny model's folder");
        } finally {
            child.destroyForcibly();
        }
    }

    private long countTinyFolders() throws Exception {
        try (var files = Files.list(temp)) {
            return files.filter(p -> p.getFileName().toString().startsWith("gatun-tiny-llama-")).count();
        }
    }
}
