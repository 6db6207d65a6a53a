package dev.gatun.cli;

import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Engine;
import dev.gatun.ops.Attention;
import dev.gatun.server.OpenAiServer;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** {@code gatun serve}: loads a model folder and serves it over the OpenAI HTTP API until interrupted. */
final class ServeCommand {
    private ServeCommand() {}

    static final String USAGE = """
            usage: gatun serve --model DIR|tiny [options]

            Serves a Hugging Face style Llama-family model folder (as for gatun generate) over an
            OpenAI-compatible HTTP API: GET /v1/models, POST /v1/completions and
            /v1/chat/completions (stream: true for Server-Sent Events), GET /health and
            GET /metrics (Prometheus). Chat messages are rendered as "<|role|>\\ncontent\\n" each,
            then "<|assistant|>\\n". Generation stops at the model's eos_token_id, a stop string,
            or max_tokens. Ctrl-C stops the server.

            options:
              --model DIR|tiny      the model folder, or "tiny": a random-weight test model in a
                                    temporary folder (its text is noise; required)
              --host H              address to listen on (default 127.0.0.1: this machine only)
              --port N              TCP port (default 8000; 0 = any free port)
              --api-key K           require "Authorization: Bearer K" (default: none)
              --served-name NAME    the model's name in the API (default: the folder's name, or tiny)
              --max-body-bytes N    largest request body (default 1048576)
              --max-prompt-tokens N longest prompt (default: the model's context)
              --max-tokens N        largest max_tokens a request may ask for (default: the model's context)
              --kv-cache-mib N      memory for the KV cache (default: on cuda 90% of the device memory free
                                    after the weights are loaded, as vLLM's gpu_memory_utilization; else 1024)
              --max-sequences N     requests decoded together at most (default 64)
              --device NAME         cuda, emu, cpu (default: the best one, or GATUN_DEVICE)
            """;

    static int run(List<String> options, PrintStream out) {
        if (options.contains("--help") || options.contains("-h")) {
            out.print(USAGE);
            return 0;
        }
        String modelArg = null, device = null, name = null;
        OpenAiServer.Options server = OpenAiServer.Options.defaults();
        int kvMib = 0, maxSequences = 64; // 0: sized from the device (see --help)
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            if (!o.startsWith("--")) throw new IllegalArgumentException("serve: unexpected argument '" + o + "' (see gatun serve --help)");
            if (i + 1 >= options.size()) throw new IllegalArgumentException("serve: " + o + " needs a value (see gatun serve --help)");
            String v = options.get(++i);
            switch (o) {
                case "--model" -> modelArg = v;
                case "--host" -> server = server.withHost(v);
                case "--port" -> {
                    int port = positive(o, v, 0);
                    if (port > 65535) throw new IllegalArgumentException("serve: --port must be in [0, 65535], got " + port);
                    server = server.withPort(port);
                }
                case "--api-key" -> {
                    if (v.isBlank()) throw new IllegalArgumentException("serve: --api-key must not be blank");
                    server = server.withApiKey(v);
                }
                case "--served-name" -> name = v;
                case "--max-body-bytes" -> server = server.withMaxBodyBytes(positive(o, v, 1));
                case "--max-prompt-tokens" -> server = server.withMaxPromptTokens(positive(o, v, 1));
                case "--max-tokens" -> server = server.withMaxTokens(positive(o, v, 1));
                case "--kv-cache-mib" -> kvMib = positive(o, v, 1);
                case "--max-sequences" -> maxSequences = positive(o, v, 1);
                case "--device" -> device = v;
                default -> throw new IllegalArgumentException("serve: unknown option " + o + " (see gatun serve --help)");
            }
        }
        try (ModelFolder folder = ModelFolder.of("serve", modelArg, 0)) {
            return serve(folder, name == null ? folder.name() : name, server, kvMib, maxSequences, device, out);
        }
    }

    private static int serve(ModelFolder folder, String name, OpenAiServer.Options server, int kvMib, int maxSequences, String device, PrintStream out) {
        Path model = folder.path();

        LlamaConfig config = LlamaConfig.load(model);
        Tokenizer tokenizer = Files.exists(model.resolve("tokenizer.json")) ? Tokenizer.load(model) : GenerateCommand.byteFallback(config.vocabSize());
        Set<Integer> eos = GenerateCommand.eosTokens(model);
        eos.removeIf(id -> id < 0 || id >= config.vocabSize());
        server = server.withEosTokens(eos.stream().mapToInt(Integer::intValue).toArray());

        Device d = device == null ? Devices.best() : Devices.get(device);
        LlamaModel llama;
        try {
            llama = LlamaModel.load(model, d);
        } catch (UncheckedIOException e) {
            throw new IllegalArgumentException("serve: cannot read the model in " + model + ": " + e.getCause().getMessage(), e);
        }
        Engine engine;
        OpenAiServer http;
        try {
            int blockSize = Attention.preferredBlockSize(d);
            // what --kv-cache-mib holds, but no more than every sequence at full context needs
            long enough = (long) maxSequences * ((config.maxPositionEmbeddings() + blockSize - 1) / blockSize);
            long kvBytes = kvMib > 0 ? (long) kvMib << 20 : d instanceof CudaDevice cuda ? cuda.freeMemoryBytes() / 10 * 9 : 1024L << 20;
            long blocks = Math.max(16, Math.min(enough, kvBytes / llama.bytesPerBlock(blockSize)));
            engine = new Engine(llama, Engine.Config.of((int) Math.min(blocks, 1 << 24)).withBlockSize(blockSize)
                    .withBatch(Math.max(256, maxSequences), maxSequences));
        } catch (RuntimeException e) {
            llama.close();
            throw e;
        }
        try {
            http = OpenAiServer.start(engine, tokenizer, name, server);
        } catch (RuntimeException e) {
            engine.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            http.close();
            engine.close();
            folder.close(); // the JVM halts after the hooks: run's own close may never come
            stopped.countDown();
        }, "gatun-serve-shutdown"));
        out.println("gatun: serving '" + name + "' on " + d.description() + " at " + http.baseUri() + "/v1 (" + engine.config().numBlocks()
                + " KV blocks" + (server.apiKey() == null ? "" : ", API key required") + "); Ctrl-C stops it");
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static int positive(String option, String v, int min) {
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("serve: " + option + " needs a whole number, got '" + v + "'");
        }
        if (n < min) throw new IllegalArgumentException("serve: " + option + " must be >= " + min + ", got " + n);
        return n;
    }
}
