package dev.gatun.bench.serve;

import dev.gatun.device.Device;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.Request;
import dev.gatun.llm.engine.RequestHandle;
import dev.gatun.llm.engine.Result;
import dev.gatun.ops.Attention;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * The engine in this process: prompts of random token ids, greedy decoding with no stop tokens (so
 * every request runs to {@code outputLen}, as vLLM's {@code ignore_eos}), each token timed as the
 * consumer's blocking iterator receives it. The engine is configured as {@code gatun serve}
 * configures it: the device's KV block size ({@link Attention#preferredBlockSize}), 64 sequences per step.
 */
final class EngineTarget implements Target {
    private static final int MAX_SEQUENCES = 64;
    private static final long KV_BYTES = 1L << 30;

    private final Engine engine;
    private final String description;

    /** Loads the model in {@code dir} onto {@code device} with room in the KV cache for 64 requests of {@code tokensPerRequest}. */
    EngineTarget(Path dir, String name, Device device, int tokensPerRequest) {
        LlamaModel model = LlamaModel.load(dir, device);
        try {
            int block = Attention.preferredBlockSize(device);
            long perRequest = (tokensPerRequest + block - 1) / block;
            long blocks = Math.max(perRequest, Math.min(MAX_SEQUENCES * perRequest, KV_BYTES / model.bytesPerBlock(block)));
            engine = new Engine(model, Engine.Config.of((int) Math.min(blocks, 1 << 24)).withBlockSize(block).withBatch(256, MAX_SEQUENCES));
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        description = "in-process engine, model " + name + " on " + device.description();
    }

    @Override public String description() { return description; }

    /** The model's vocabulary and context, for validating the benchmark's lengths before it starts. */
    int vocabSize() { return engine.modelConfig().vocabSize(); }

    int context() { return engine.modelConfig().maxPositionEmbeddings(); }

    @Override
    public RequestRecord send(long promptSeed, int inputLen, int outputLen) {
        Random random = new Random(promptSeed);
        int[] prompt = new int[inputLen];
        for (int i = 0; i < inputLen; i++) prompt[i] = random.nextInt(vocabSize());
        long sent = System.nanoTime();
        RequestHandle handle;
        try {
            handle = engine.submit(Request.greedy(prompt, outputLen));
        } catch (RuntimeException e) {
            return RequestRecord.failed(sent, System.nanoTime(), inputLen, e.getMessage());
        }
        long[] chunks = new long[outputLen];
        int n = 0;
        for (int ignored : handle) {
            if (n == chunks.length) chunks = Arrays.copyOf(chunks, 2 * n);
            chunks[n++] = System.nanoTime();
        }
        long end = System.nanoTime();
        Result result = handle.await();
        String error = switch (result.reason()) {
            case STOP, LENGTH -> null;
            case ERROR -> "failed: " + (result.error() == null ? "unknown error" : result.error().getMessage());
            default -> "ended " + result.reason().name().toLowerCase() + " after " + n + " tokens";
        };
        return new RequestRecord(sent, Arrays.copyOf(chunks, n), end, inputLen, n, error);
    }

    @Override
    public void close() { engine.close(); }
}
