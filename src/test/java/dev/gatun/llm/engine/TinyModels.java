package dev.gatun.llm.engine;

import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.ops.Sampling;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.TinyLlama;

import java.nio.file.Path;
import java.util.Random;

/**
 * Small random-weight Llama folders (config.json + model.safetensors, the Hugging Face layout the
 * real loader reads) for engine and CLI tests, and the plain one-request-at-a-time reference.
 */
public final class TinyModels {
    private TinyModels() {}

    /** 2 layers, hidden 64, 4 query / 2 KV heads of 16, intermediate 128, fp32. */
    public static LlamaConfig config(int vocab, int maxPositions) {
        return new LlamaConfig(64, 128, 2, 4, 2, 16, 1e-5f, 10000f, vocab, false, maxPositions, DType.F32);
    }

    /** Writes a random model with {@code config} into {@code dir} and returns {@code dir}. */
    public static Path write(Path dir, LlamaConfig c, long seed) {
        return new TinyLlama(c, new Random(seed)).save(dir, DType.F32, 0);
    }

    public record Reference(int[] tokens, double[] margins) {}

    /**
     * The plain reference: one request alone, a fresh small cache, the whole prompt in one
     * prefill, then one decode token at a time; greedy through {@link Sampling#sample}.
     */
    public static Reference greedy(LlamaModel model, int[] prompt, int steps) {
        int blockSize = 16;
        int blocks = (prompt.length + steps + blockSize - 1) / blockSize;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        int[] out = new int[steps];
        double[] margins = new double[steps];
        try (LlamaModel.KvCache cache = model.newCache(blocks, blockSize)) {
            int[] chunk = prompt;
            int start = 0;
            for (int s = 0; s < steps; s++) {
                try (Tensor logits = model.forward(LlamaModel.Batch.single(chunk, start, table, blockSize), cache)) {
                    out[s] = Sampling.sample(logits, new Sampling.Params[] {Sampling.Params.greedy()}, new long[] {s})[0];
                    float[] row = logits.toFloatArray();
                    double[] wide = new double[row.length];
                    for (int i = 0; i < row.length; i++) wide[i] = row[i];
                    margins[s] = TinyLlama.margin(wide);
                }
                start += chunk.length;
                chunk = new int[] {out[s]};
            }
        }
        return new Reference(out, margins);
    }
}
