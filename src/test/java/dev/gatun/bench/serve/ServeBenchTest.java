package dev.gatun.bench.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatun.device.Devices;
import dev.gatun.io.TemporaryFolder;
import dev.gatun.llm.ByteTokenizer;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.RandomLlama;
import dev.gatun.llm.engine.Engine;
import dev.gatun.server.OpenAiServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** serve-bench end to end with the tiny model on the cpu device, in process and over HTTP, and its flag checking. */
class ServeBenchTest {
    @TempDir Path dir;

    private static ServeBench.Run run(List<String> args, StringBuilder printed) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ServeBench.Run run = ServeBench.run(ServeBench.Options.parse(args), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        printed.append(bytes.toString(StandardCharsets.UTF_8));
        return run;
    }

    /** Every request completed with exactly {@code output} chunks in time order, and the metric counts agree with that. */
    private static void checkConsistent(ServeBench.Run run, int requests, int input, int output) {
        assertEquals(requests, run.records().size());
        for (RequestRecord r : run.records()) {
            assertTrue(r.completed(), "request failed: " + r.error());
            assertEquals(input, r.promptTokens());
            assertEquals(output, r.outputTokens());
            assertTrue(r.chunkNanos()[0] >= r.sentNanos() && r.sentNanos() >= run.startNanos());
            for (int i = 1; i < r.chunkNanos().length; i++) assertTrue(r.chunkNanos()[i] >= r.chunkNanos()[i - 1]);
            assertTrue(r.endNanos() >= r.chunkNanos()[r.chunkNanos().length - 1]);
        }
        ServeMetrics m = run.metrics();
        assertEquals(requests, m.completed());
        assertEquals(0, m.failed());
        assertEquals((long) requests * input, m.totalInputTokens());
        assertEquals((long) requests * output, m.totalOutputTokens());
        assertEquals(requests, m.ttft().count());
        assertEquals(requests, m.tpot().count());
        assertEquals(requests, m.e2el().count());
        assertEquals(requests * (output - 1), m.itl().count(), "one gap between each pair of consecutive tokens");
        assertEquals(m.totalOutputTokens() / m.durationSeconds(), m.outputThroughput(), 1e-9);
        assertTrue(m.ttft().meanMs() > 0 && m.e2el().meanMs() >= m.ttft().meanMs());
    }

    @Test
    void inProcessOnCpuWithTheTinyModel() throws Exception {
        StringBuilder printed = new StringBuilder();
        Path json = dir.resolve("out/result.json"), plots = dir.resolve("plots");
        ServeBench.Run run = run(List.of("--model", "tiny", "--device", "cpu", "--rate", "40", "--requests", "6", "--input-len", "16",
                "--output-len", "8", "--seed", "3", "--json", json.toString(), "--plot", plots.toString()), printed);
        checkConsistent(run, 6, 16, 8);
        String out = printed.toString();
        assertTrue(out.contains("Successful requests:                     6\n"), out);
        assertTrue(out.contains("Total generated tokens:                  48\n"), out);
        assertTrue(out.contains("in-process engine, model tiny"), out);
        JsonNode result = new ObjectMapper().readTree(json.toFile());
        assertEquals(6, result.get("completed").asInt());
        assertEquals(48, result.get("total_output_tokens").asInt());
        assertEquals(6, result.get("itls").size());
        assertEquals(7, result.get("itls").get(0).size());
        for (String name : List.of("serve-latency-cdf.png", "serve-latency-over-time.png")) {
            assertNotNull(ImageIO.read(plots.resolve(name).toFile()), name);
            assertTrue(out.contains("plot: " + plots.resolve(name)), out);
        }
    }

    @Test
    void overHttpAgainstTheOpenAiServer() {
        try (TemporaryFolder model = RandomLlama.writeTiny(11)) {
            List<String> specials = new ArrayList<>();
            for (int id = 256; id < RandomLlama.TINY.vocabSize(); id++) specials.add("<|id_" + id + "|>");
            try (Engine engine = new Engine(LlamaModel.load(model.path(), Devices.get("cpu")), Engine.Config.of(256));
                 OpenAiServer server = OpenAiServer.start(engine, new ByteTokenizer(specials), "tiny", OpenAiServer.Options.defaults().withPort(0))) {
                StringBuilder printed = new StringBuilder();
                ServeBench.Run run = run(List.of("--url", server.baseUri().toString(), "--rate", "inf", "--requests", "4", "--input-len", "12",
                        "--output-len", "6"), printed);
                // the prompt is 12 letters, one byte-level token each; the tiny model's bytes are mostly
                // not UTF-8 text, so some tokens stream no text: count only what the server reports
                assertEquals(4, run.records().size());
                for (RequestRecord r : run.records()) {
                    assertTrue(r.completed(), "request failed: " + r.error());
                    assertEquals(12, r.promptTokens());
                    assertEquals(6, r.outputTokens());
                    assertTrue(r.chunkNanos().length >= 1 && r.chunkNanos().length <= 6);
                }
                assertEquals(4, run.metrics().completed());
                assertEquals(24, run.metrics().totalOutputTokens());
                assertTrue(printed.toString().contains("serve-bench: server at " + server.baseUri() + "/v1/completions"), printed.toString());
            }
        }
    }

    @Test
    void badFlagsGetOneClearSentence() {
        Path file = dir.resolve("a-file");
        String missing = dir.resolve("no-such-model").toString();
        List<List<String>> bad = List.of(
                List.of("--rate", "0", "--model", "tiny"),
                List.of("--rate", "fast", "--model", "tiny"),
                List.of("--requests", "-2", "--model", "tiny"),
                List.of("--input-len", "1.5", "--model", "tiny"),
                List.of("--seed", "x", "--model", "tiny"),
                List.of("--bogus", "1", "--model", "tiny"),
                List.of("--model"),
                List.of("stray"),
                List.of(),
                List.of("--model", "tiny", "--url", "http://127.0.0.1:8000"),
                List.of("--url", "ftp://host"),
                List.of("--url", "http://127.0.0.1:8000", "--device", "cpu"),
                List.of("--model", missing),
                List.of("--model", "tiny", "--plot", file.toString()));
        try {
            Files.writeString(file, "x");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        for (List<String> args : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServeBench.Options.parse(args), args.toString());
            String m = e.getMessage();
            assertFalse(m.isBlank() || m.contains("\n") || m.contains("Exception"), args + " -> " + m);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ServeBench.Options.parse(List.of("--rate", "0", "--model", "tiny")))
                .getMessage().contains("--rate"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ServeBench.Options.parse(List.of("--bogus", "1")))
                .getMessage().contains("--bogus"));
    }

    @Test
    void lengthsBeyondTheModelsContextAreRejectedBeforeAnyRequest() {
        ServeBench.Options o = ServeBench.Options.parse(List.of("--model", "tiny", "--device", "cpu", "--input-len", "2000", "--output-len", "100"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServeBench.run(o, new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("exceeds the model's context of 2048 tokens"), e.getMessage());
    }
}
