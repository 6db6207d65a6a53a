package dev.gatun.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.llm.ByteTokenizer;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.FinishReason;
import dev.gatun.llm.engine.Request;
import dev.gatun.llm.engine.RequestHandle;
import dev.gatun.llm.engine.Result;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Sampling;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** {@code gatun generate}: loads a model folder and streams the continuation of one prompt through the engine. */
final class GenerateCommand {
    private GenerateCommand() {}

    static final String USAGE = """
            usage: gatun generate --model DIR|tiny [options] "prompt"

            Loads a Hugging Face style Llama-family model folder (config.json + *.safetensors, and
            tokenizer.json; without one, ids 0..255 are bytes) and streams the continuation of the
            prompt to stdout as tokens arrive. The prompt is encoded as is (no BOS token is added).
            Generation stops at the model's eos_token_id (config.json) or after --max-tokens.

            options:
              --model DIR|tiny    the model folder, or "tiny": a random-weight test model in a
                                  temporary folder (its text is noise; required)
              --max-tokens N      new tokens at most (default 128; fewer if the context is shorter)
              --temperature T     0 = greedy (default 0)
              --top-k K           sample among the K most likely tokens (0 = off, default)
              --top-p P           nucleus sampling, in (0, 1] (1 = off, default)
              --seed S            random seed (default 0)
              --device NAME       cuda, emu, cpu (default: the best one, or GATUN_DEVICE)
            """;

    static int run(List<String> options, PrintStream out) {
        if (options.contains("--help") || options.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String model = null;
        int maxTokens = 128;
        boolean maxTokensGiven = false;
        float temperature = 0, topP = 1;
        int topK = 0;
        long seed = 0;
        String device = null;
        List<String> words = new ArrayList<>();
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            if (!o.startsWith("--")) {
                words.add(o);
                continue;
            }
            if (i + 1 >= options.size()) throw new IllegalArgumentException("generate: " + o + " needs a value (see gatun generate --help)");
            String v = options.get(++i);
            switch (o) {
                case "--model" -> model = v;
                case "--max-tokens" -> {
                    maxTokens = parseInt(o, v);
                    maxTokensGiven = true;
                }
                case "--temperature" -> temperature = parseFloat(o, v);
                case "--top-k" -> topK = parseInt(o, v);
                case "--top-p" -> topP = parseFloat(o, v);
                case "--seed" -> seed = parseLong(o, v);
                case "--device" -> device = v;
                default -> throw new IllegalArgumentException("generate: unknown option " + o + " (see gatun generate --help)");
            }
        }
        ModelFolder.require("generate", model);
        if (words.size() != 1) throw new IllegalArgumentException("generate: give exactly one prompt (quote it), got " + words.size() + " arguments " + words);
        String prompt = words.getFirst();
        if (prompt.isEmpty()) throw new IllegalArgumentException("generate: the prompt is empty");
        if (maxTokens < 1) throw new IllegalArgumentException("generate: --max-tokens must be >= 1, got " + maxTokens);
        Sampling.Params params = new Sampling.Params(temperature, topK, topP, seed);
        try (ModelFolder folder = ModelFolder.of("generate", model, seed)) {
            return generate(folder.path(), prompt, params, maxTokens, maxTokensGiven, device, out);
        }
    }

    private static int generate(Path model, String prompt, Sampling.Params params, int maxTokens, boolean maxTokensGiven, String device,
                                PrintStream out) {
        LlamaConfig config = LlamaConfig.load(model);
        Tokenizer tokenizer = Files.exists(model.resolve("tokenizer.json")) ? Tokenizer.load(model) : byteFallback(config.vocabSize());
        int[] ids = tokenizer.encode(prompt);
        if (ids.length == 0) throw new IllegalArgumentException("generate: the prompt encodes to no tokens");
        int room = config.maxPositionEmbeddings() - ids.length;
        if (room < 1)
            throw new IllegalArgumentException("generate: the prompt has " + ids.length + " tokens, the model's context only " + config.maxPositionEmbeddings());
        if (maxTokens > room) {
            if (maxTokensGiven)
                throw new IllegalArgumentException("generate: prompt (" + ids.length + " tokens) + --max-tokens " + maxTokens + " exceeds the model's context of "
                        + config.maxPositionEmbeddings() + " tokens");
            maxTokens = room;
        }
        Set<Integer> eos = eosTokens(model);
        eos.removeIf(id -> id < 0 || id >= config.vocabSize());
        Request request = new Request(ids, params, maxTokens, eos.stream().mapToInt(Integer::intValue).toArray(), null);

        Device d = device == null ? Devices.best() : Devices.get(device);
        int blockSize = Attention.preferredBlockSize(d);
        int blocks = Math.max(16, (ids.length + maxTokens + blockSize - 1) / blockSize + 1);
        LlamaModel llama;
        try {
            llama = LlamaModel.load(model, d);
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("generate: cannot read the model in " + model + ": " + e.getCause().getMessage(), e);
        }
        Engine started;
        try {
            started = new Engine(llama, Engine.Config.of(blocks).withBlockSize(blockSize).withBatch(256, 1));
        } catch (RuntimeException e) {
            llama.close();
            throw e;
        }
        try (Engine engine = started) {
            RequestHandle handle = engine.submit(request);
            Tokenizer.StreamDecoder decoder = tokenizer.streamDecoder(true);
            for (int token : handle) {
                if (token >= tokenizer.vocabSize()) continue; // the model's vocabulary may be padded beyond the tokenizer's
                out.print(decoder.push(token));
                out.flush();
            }
            out.println(decoder.flush());
            out.flush();
            Result result = handle.await();
            if (result.reason() == FinishReason.ERROR)
                throw new IllegalStateException("generate: generation failed: " + (result.error() == null ? "unknown error" : result.error().getMessage()), result.error());
        }
        return 0;
    }

    /** Bytes for ids 0..255 and placeholder special tokens for the rest of the model's vocabulary. */
    static Tokenizer byteFallback(int vocab) {
        List<String> specials = new ArrayList<>();
        for (int id = 256; id < vocab; id++) specials.add("<|id_" + id + "|>");
        return new ByteTokenizer(specials);
    }

    /** eos_token_id from config.json and generation_config.json (a number or a list), if any. */
    static Set<Integer> eosTokens(Path model) {
        Set<Integer> ids = new LinkedHashSet<>();
        ObjectMapper json = new ObjectMapper();
        for (String name : new String[] {"config.json", "generation_config.json"}) {
            Path file = model.resolve(name);
            if (!Files.exists(file)) continue;
            try {
                JsonNode eos = json.readTree(file.toFile()).get("eos_token_id");
                if (eos == null || eos.isNull()) continue;
                if (eos.isArray()) eos.forEach(e -> ids.add(e.asInt()));
                else if (eos.canConvertToInt()) ids.add(eos.asInt());
            } catch (IOException e) {
                throw new IllegalArgumentException("generate: cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        return ids;
    }

    private static int parseInt(String option, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("generate: " + option + " needs a whole number, got '" + v + "'");
        }
    }

    private static long parseLong(String option, String v) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("generate: " + option + " needs a whole number, got '" + v + "'");
        }
    }

    private static float parseFloat(String option, String v) {
        try {
            return Float.parseFloat(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("generate: " + option + " needs a number, got '" + v + "'");
        }
    }
}
