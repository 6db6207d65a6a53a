package dev.gatun.bench.serve;

import dev.gatun.io.Safetensors;
import dev.gatun.io.Safetensors.HostTensor;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * {@code --model tiny}: a random-weight Llama of test size (2 layers, hidden 128, 4 query and 2
 * KV heads of 32, vocabulary 512, context 2048, fp32) written in the Hugging Face layout
 * (config.json + model.safetensors), for measuring the engine's serving path when no real model is
 * at hand. Its figures are the engine's overheads and a small model's compute, not a real model's.
 */
final class TinyModel {
    static final LlamaConfig CONFIG = new LlamaConfig(128, 352, 2, 4, 2, 32, 1e-5f, 10000f, 512, false, 2048, DType.F32);

    private TinyModel() {}

    /** Writes the model into a new temporary folder and returns it; {@link #delete} removes it. */
    static Path write(long seed) {
        try {
            Path dir = Files.createTempDirectory("gatun-tiny-llama-");
            CONFIG.save(dir);
            Safetensors.write(dir.resolve(Safetensors.SINGLE_FILE), weights(new Random(seed)), Map.of("format", "pt"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tiny model: " + e.getMessage(), e);
        }
    }

    static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the tiny model in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Gaussian weights scaled by 1/sqrt(fan-in) so activations stay of order one; norm weights near one. */
    private static Map<String, HostTensor> weights(Random random) {
        LlamaConfig c = CONFIG;
        int h = c.hiddenSize(), inter = c.intermediateSize();
        Map<String, HostTensor> w = new LinkedHashMap<>();
        w.put("model.embed_tokens.weight", gaussian(random, 1, 0, c.vocabSize(), h));
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            w.put(p + "input_layernorm.weight", gaussian(random, 0.1, 1, h));
            w.put(p + "self_attn.q_proj.weight", gaussian(random, 1 / Math.sqrt(h), 0, c.qDim(), h));
            w.put(p + "self_attn.k_proj.weight", gaussian(random, 1 / Math.sqrt(h), 0, c.kvDim(), h));
            w.put(p + "self_attn.v_proj.weight", gaussian(random, 1 / Math.sqrt(h), 0, c.kvDim(), h));
            w.put(p + "self_attn.o_proj.weight", gaussian(random, 1 / Math.sqrt(c.qDim()), 0, h, c.qDim()));
            w.put(p + "post_attention_layernorm.weight", gaussian(random, 0.1, 1, h));
            w.put(p + "mlp.gate_proj.weight", gaussian(random, 1 / Math.sqrt(h), 0, inter, h));
            w.put(p + "mlp.up_proj.weight", gaussian(random, 1 / Math.sqrt(h), 0, inter, h));
            w.put(p + "mlp.down_proj.weight", gaussian(random, 1 / Math.sqrt(inter), 0, h, inter));
        }
        w.put("model.norm.weight", gaussian(random, 0.1, 1, h));
        w.put("lm_head.weight", gaussian(random, 1 / Math.sqrt(h), 0, c.vocabSize(), h));
        return w;
    }

    private static HostTensor gaussian(Random random, double scale, double mean, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] values = new float[(int) n];
        for (int i = 0; i < values.length; i++) values[i] = (float) (mean + scale * random.nextGaussian());
        return HostTensor.of(DType.F32, values, shape);
    }
}
