package dev.gatun.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.device.Devices;
import dev.gatun.llm.ByteTokenizer;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.Metrics;
import dev.gatun.llm.engine.TinyModels;
import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The official {@code openai} npm client (src/test/js, installed by the build from the lockfile)
 * drives the server on loopback: each script under src/test/js is run by {@code node} against a
 * server over a tiny random Llama on the cpu device, with a fixture of greedy reference texts
 * computed here one request at a time. After each script the engine must hold nothing: no
 * request running or queued, every submitted request finished, every KV block free. The emu
 * device is left out: on 2 cores the engine there takes minutes for the load script alone.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OpenAiNpmClientTest {
    static final int VOCAB = 300, CONTEXT = 1024, TOKENS = 24, MAX_BODY = 16 * 1024;
    static final String KEY = "sk-npm-test", MODEL = "tiny";
    static final Path JS = Path.of("src", "test", "js").toAbsolutePath();
    /** Greedy steps whose top-two logit margin is below this are near ties that batching may flip. */
    static final double NEAR_TIE = 1e-3;
    static final long SCRIPT_TIMEOUT_S = 150;

    @TempDir static Path dir;
    static Engine engine;
    static OpenAiServer server;
    static Path fixture;

    @BeforeAll
    static void start() throws Exception {
        if (!Files.isDirectory(JS.resolve("node_modules/openai")))
            fail("the openai npm client is not installed in " + JS + "; the build installs it (src/test/js/install.sh at generate-test-resources)");
        Random random = Seeds.random("OpenAiNpmClientTest");
        LlamaConfig config = TinyModels.config(VOCAB, CONTEXT);
        Path modelDir = TinyModels.write(Files.createDirectories(dir.resolve("tiny")), config, random.nextLong());
        List<String> specials = new ArrayList<>();
        for (int id = 256; id < VOCAB; id++) specials.add("<|id_" + id + "|>");
        Tokenizer tokenizer = new ByteTokenizer(specials);
        fixture = writeFixture(modelDir, tokenizer, random);
        engine = new Engine(LlamaModel.load(modelDir, Devices.get("cpu")), Engine.Config.of(512).withBatch(512, 64));
        server = OpenAiServer.start(engine, tokenizer, MODEL, OpenAiServer.Options.defaults().withPort(0).withApiKey(KEY).withMaxBodyBytes(MAX_BODY));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
    }

    @Test
    @Order(1)
    void completionsChatStreamingStopAndCancel() throws Exception {
        runScript("api.test.mjs");
    }

    @Test
    @Order(2)
    void badRequestsAreRefusedAndTheServerKeepsServing() throws Exception {
        runScript("errors.test.mjs");
    }

    @Test
    @Order(3)
    void concurrentStreamsWithRandomCancels() throws Exception {
        runScript("load.test.mjs");
    }

    /** Runs {@code node <script> <baseUrl> <fixture>}, its output into the test log; then the engine must be idle. */
    static void runScript(String script) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("node", "--test-reporter=spec", script, server.baseUri().toString(), fixture.toString())
                .directory(JS.toFile()).redirectErrorStream(true);
        pb.environment().put("OPENAI_API_KEY", KEY);
        pb.environment().put("NO_COLOR", "1");
        Process node = pb.start();
        Thread log = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) System.out.println("[node " + script + "] " + line);
            } catch (Exception e) {
                System.out.println("[node " + script + "] output lost: " + e);
            }
        });
        if (!node.waitFor(SCRIPT_TIMEOUT_S, TimeUnit.SECONDS)) {
            node.destroyForcibly().waitFor();
            log.join();
            fail("node " + script + " ran over " + SCRIPT_TIMEOUT_S + " s" + Seeds.replay());
        }
        log.join();
        assertEquals(0, node.exitValue(), "node " + script + " failed (its output is above)" + Seeds.replay());

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Metrics m = engine.metrics();
        while (System.nanoTime() < deadline && !(m.running() == 0 && m.queued() == 0 && m.usedBlocks() == 0 && m.finished() == m.submitted()
                && server.activeRequests() == 0)) {
            Thread.sleep(20);
            m = engine.metrics();
        }
        assertEquals(0, m.running(), m.toString());
        assertEquals(0, m.queued(), m.toString());
        assertEquals(0, m.usedBlocks(), "KV blocks still in use: " + m);
        assertEquals(m.submitted(), m.finished(), m.toString());
        assertEquals(0, server.activeRequests(), "requests the server still waits on");
    }

    /**
     * Random prompts (completions) and conversations (chat) whose greedy continuations of
     * {@link #TOKENS} tokens have no near tie, with those continuations from the plain
     * one-request reference and each one's {@link #usableStop}, as JSON for the scripts (see
     * src/test/js/lib.mjs). Each kind gets at least one case with a stop string: a random model's
     * text is often periodic from its start (both chats of seed 36567548847986 were).
     */
    static Path writeFixture(Path modelDir, Tokenizer tokenizer, Random random) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode().put("model", MODEL).put("context", CONTEXT).put("maxBodyBytes", MAX_BODY)
                .put("seed", random.nextInt() & 0x7fffffff);
        ArrayNode completions = root.putArray("completions"), chats = root.putArray("chats");
        try (LlamaModel reference = LlamaModel.load(modelDir, Devices.get("cpu"))) {
            for (int tries = 0; (completions.size() < 4 || chats.size() < 2) && tries < 128; tries++) {
                boolean chat = completions.size() == 4 || (chats.size() < 2 && tries % 2 == 1);
                List<ChatTemplate.Message> messages = List.of(new ChatTemplate.Message("system", words(random, 1 + random.nextInt(4))),
                        new ChatTemplate.Message("user", words(random, 1 + random.nextInt(8))));
                String prompt = chat ? ChatTemplate.render(messages) : words(random, 1 + random.nextInt(8));
                int[] ids = tokenizer.encode(prompt);
                TinyModels.Reference ref = TinyModels.greedy(reference, ids, TOKENS);
                if (Arrays.stream(ref.margins()).anyMatch(margin -> margin < NEAR_TIE)) continue;
                String text = tokenizer.decode(ref.tokens(), true), stop = usableStop(text);
                ArrayNode kind = chat ? chats : completions;
                boolean lastSlot = kind.size() == (chat ? 2 : 4) - 1;
                if (stop == null && lastSlot && kind.valueStream().allMatch(k -> k.get("stop").isNull())) continue;
                ObjectNode c = kind.addObject();
                if (chat) {
                    ArrayNode ms = c.putArray("messages");
                    for (ChatTemplate.Message m : messages) ms.addObject().put("role", m.role()).put("content", m.content());
                } else c.put("prompt", prompt);
                c.put("maxTokens", TOKENS).put("promptTokens", ids.length).put("text", text).put("stop", stop);
            }
        }
        assertTrue(completions.size() == 4 && chats.size() == 2, "prompts without near ties, each kind with a stop string, in 128 tries" + Seeds.replay());
        Path out = dir.resolve("fixture.json");
        json.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), root);
        return out;
    }

    /**
     * Two characters of {@code text} whose first occurrence is past its start (so the text before
     * them is not empty), no surrogate halves; null where there is none.
     */
    static String usableStop(String text) {
        for (int at = 2; at < text.length() - 2; at++) {
            String s = text.substring(at, at + 2);
            if (text.indexOf(s) == at && !Character.isSurrogate(s.charAt(0)) && !Character.isSurrogate(s.charAt(1))) return s;
        }
        return null;
    }

    static String words(Random random, int n) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) s.append(' ');
            int len = 1 + random.nextInt(7);
            for (int j = 0; j < len; j++) s.append((char) ('a' + random.nextInt(26)));
        }
        return s.toString();
    }
}
