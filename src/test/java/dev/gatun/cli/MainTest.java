package dev.gatun.cli;

import dev.gatun.device.Devices;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.TinyModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    private static String run(String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertEquals(0, Main.run(List.of(args), new PrintStream(bytes, true, StandardCharsets.UTF_8)));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void helpListsBenchAndTheCliCommands() {
        String help = run("--help");
        assertTrue(help.contains("bench") && help.contains("devices"), help);
    }

    @Test
    void devicesSaysWhatEachIs() {
        String out = run("devices");
        assertTrue(out.contains("cpu ") && out.contains("emu ") && out.contains("cuda "), out);
    }

    @Test
    void unknownCommandsAreOneSentence() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(List.of("frobnicate"), System.out));
        assertTrue(e.getMessage().contains("unknown command 'frobnicate'"), e.getMessage());
    }

    // ---- generate ----

    @TempDir Path tmp;

    @Test
    void generateStreamsTheGreedyContinuation() throws Exception {
        LlamaConfig config = TinyModels.config(300, 256);
        Path model = TinyModels.write(Files.createDirectories(tmp.resolve("tiny")), config, 42);
        String prompt = "Hello, Gatun";
        Tokenizer bytes = GenerateCommand.byteFallback(300);
        int[] ids = bytes.encode(prompt);
        TinyModels.Reference ref;
        try (LlamaModel m = LlamaModel.load(model, Devices.get("cpu"))) {
            ref = TinyModels.greedy(m, ids, 12);
        }
        assertTrue(Arrays.stream(ref.tokens()).filter(t -> t < 256).count() >= 6, "the continuation should be mostly bytes: " + Arrays.toString(ref.tokens()));
        String out = run("generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "12", prompt);
        assertEquals(bytes.decode(ref.tokens(), true) + System.lineSeparator(), out);

        // an eos_token_id in generation_config.json stops generation after that token
        int eos = ref.tokens()[4];
        int at = 0;
        while (ref.tokens()[at] != eos) at++;
        Files.writeString(model.resolve("generation_config.json"), "{\"eos_token_id\": [" + eos + "]}");
        out = run("generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "12", prompt);
        assertEquals(bytes.decode(Arrays.copyOf(ref.tokens(), at + 1), true) + System.lineSeparator(), out);

        // sampling options are accepted and reproducible
        String a = run("generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "8", "--temperature", "0.8", "--top-k", "40",
                "--top-p", "0.9", "--seed", "7", prompt);
        String b = run("generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "8", "--temperature", "0.8", "--top-k", "40",
                "--top-p", "0.9", "--seed", "7", prompt);
        assertEquals(a, b);
    }

    @Test
    void generateWithTheTinyModelStreamsAndCleansUp() throws Exception {
        Path temp = Path.of(System.getProperty("java.io.tmpdir"));
        long before = tinyFolders(temp);
        String a = run("generate", "--model", "tiny", "--device", "cpu", "--max-tokens", "6", "--seed", "5", "hello");
        String b = run("generate", "--model", "tiny", "--device", "cpu", "--max-tokens", "6", "--seed", "5", "hello");
        assertTrue(a.endsWith(System.lineSeparator()) && a.length() > System.lineSeparator().length(), "'" + a + "'");
        assertEquals(a, b, "the same seed writes the same weights and samples the same tokens");
        assertEquals(before, tinyFolders(temp), "the temporary model folder is deleted");
    }

    private static long tinyFolders(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith("gatun-tiny-llama-")).count();
        }
    }

    @Test
    void generateHelpAndClearErrors() throws Exception {
        assertTrue(run("generate", "--help").contains("--max-tokens"));
        assertCliError("--model DIR is required", "generate", "hello");
        assertCliError("does not exist", "generate", "--model", tmp.resolve("nowhere").toString(), "hello");
        Path model = TinyModels.write(Files.createDirectories(tmp.resolve("m")), TinyModels.config(300, 64), 1);
        assertCliError("exactly one prompt", "generate", "--model", model.toString(), "--device", "cpu");
        assertCliError("temperature", "generate", "--model", model.toString(), "--device", "cpu", "--temperature", "-1", "hi");
        assertCliError("needs a number", "generate", "--model", model.toString(), "--temperature", "hot", "hi");
        assertCliError("exceeds the model's context of 64", "generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "100", "hi");
        assertCliError("unknown option --frob", "generate", "--model", model.toString(), "--frob", "1", "hi");
        // the context of 64 tokens: a prompt may fill all but one; --max-tokens may fill the rest exactly
        assertCliError("the model's context only 64", "generate", "--model", model.toString(), "--device", "cpu", "x".repeat(64));
        run("generate", "--model", model.toString(), "--device", "cpu", "x".repeat(63));
        run("generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "62", "hi");
        assertCliError("exceeds the model's context of 64", "generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "63", "hi");
        assertCliError("--max-tokens must be >= 1", "generate", "--model", model.toString(), "--device", "cpu", "--max-tokens", "0", "hi");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertCliError("no config.json", "generate", "--model", empty.toString(), "hi");
    }

    /** serve's options are checked before anything is loaded or bound. */
    @Test
    void serveHelpAndClearErrors() {
        assertTrue(run("serve", "--help").contains("--max-sequences"));
        assertCliError("--port must be >= 0, got -1", "serve", "--port", "-1");
        assertCliError("--port must be in [0, 65535], got 65536", "serve", "--port", "65536");
        assertCliError("--max-tokens must be >= 1, got 0", "serve", "--max-tokens", "0");
        assertCliError("--max-prompt-tokens needs a whole number, got 'many'", "serve", "--max-prompt-tokens", "many");
        assertCliError("--max-body-bytes must be >= 1", "serve", "--max-body-bytes", "0");
        assertCliError("--kv-cache-mib must be >= 1", "serve", "--kv-cache-mib", "0");
        assertCliError("--max-sequences must be >= 1", "serve", "--max-sequences", "0");
        assertCliError("--api-key must not be blank", "serve", "--api-key", " ");
        assertCliError("--port needs a value", "serve", "--port");
        assertCliError("unexpected argument 'model'", "serve", "model");
        assertCliError("unknown option --frob", "serve", "--frob", "1");
    }

    private static void assertCliError(String part, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Main.run(List.of(args), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should say '" + part + "'");
    }
}
