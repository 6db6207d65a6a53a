package dev.gatun.llm;

import dev.gatun.io.Safetensors;
import dev.gatun.io.Safetensors.HostTensor;
import dev.gatun.io.TemporaryFolder;
import dev.gatun.tensor.DType;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Random-weight Llama models saved exactly as a Hugging Face checkpoint (config.json +
 * safetensors), so the real loader reads them: for trying the CLI, the server and the serving
 * benchmark without downloading weights ({@code --model tiny}), and for the tests. Weights are
 * Gaussian scaled by 1/sqrt(fan-in), so activations stay of order one; norm weights are near one.
 * Their output is noise: figures measured on them are the runtime's costs at that size.
 */
public final class RandomLlama {
    /** 2 layers, hidden 128, 4 query and 2 KV heads of 32, intermediate 352, vocabulary 512, context 2048, fp32. */
    public static final LlamaConfig TINY = new LlamaConfig(128, 352, 2, 4, 2, 32, 1e-5f, 10000f, 512, false, 2048, DType.F32);

    /** fp32 values and shapes by tensor name, in checkpoint order. */
    public record Weights(Map<String, float[]> values, Map<String, long[]> shapes) {
        public Weights {
            values = Collections.unmodifiableMap(values);
            shapes = Collections.unmodifiableMap(shapes);
        }

        /** The tensors as {@code dtype}, ready for {@link Safetensors#write}. */
        public Map<String, HostTensor> hostTensors(DType dtype) {
            Map<String, HostTensor> out = new LinkedHashMap<>();
            values.forEach((name, v) -> out.put(name, HostTensor.of(dtype, v, shapes.get(name))));
            return out;
        }
    }

    private RandomLlama() {}

    /** {@link #TINY} with weights drawn from {@code seed}, written in fp32 into a new temporary folder (deleted on close). */
    public static TemporaryFolder writeTiny(long seed) {
        TemporaryFolder folder = TemporaryFolder.create("gatun-tiny-llama-");
        try {
            write(folder.path(), TINY, weights(TINY, new Random(seed)), DType.F32, 0);
            return folder;
        } catch (RuntimeException e) {
            folder.close();
            throw e;
        }
    }

    /** Draws every weight {@code config} needs from {@code random}. */
    public static Weights weights(LlamaConfig config, Random random) {
        Map<String, float[]> values = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        int h = config.hiddenSize(), inter = config.intermediateSize(), v = config.vocabSize();
        gaussian(values, shapes, random, "model.embed_tokens.weight", 1, 0, v, h);
        for (int i = 0; i < config.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            gaussian(values, shapes, random, p + "input_layernorm.weight", 0.1, 1, h);
            gaussian(values, shapes, random, p + "self_attn.q_proj.weight", 1 / Math.sqrt(h), 0, config.qDim(), h);
            gaussian(values, shapes, random, p + "self_attn.k_proj.weight", 1 / Math.sqrt(h), 0, config.kvDim(), h);
            gaussian(values, shapes, random, p + "self_attn.v_proj.weight", 1 / Math.sqrt(h), 0, config.kvDim(), h);
            gaussian(values, shapes, random, p + "self_attn.o_proj.weight", 1 / Math.sqrt(config.qDim()), 0, h, config.qDim());
            gaussian(values, shapes, random, p + "post_attention_layernorm.weight", 0.1, 1, h);
            gaussian(values, shapes, random, p + "mlp.gate_proj.weight", 1 / Math.sqrt(h), 0, inter, h);
            gaussian(values, shapes, random, p + "mlp.up_proj.weight", 1 / Math.sqrt(h), 0, inter, h);
            gaussian(values, shapes, random, p + "mlp.down_proj.weight", 1 / Math.sqrt(inter), 0, h, inter);
        }
        gaussian(values, shapes, random, "model.norm.weight", 0.1, 1, h);
        if (!config.tieWordEmbeddings()) gaussian(values, shapes, random, "lm_head.weight", 1 / Math.sqrt(h), 0, v, h);
        return new Weights(values, shapes);
    }

    /**
     * Writes config.json and the weights as {@code dtype} into {@code dir}: one model.safetensors,
     * or shards of about {@code shardBytes} with their index when {@code shardBytes > 0}.
     */
    public static Path write(Path dir, LlamaConfig config, Weights weights, DType dtype, long shardBytes) {
        config.save(dir);
        if (shardBytes > 0) Safetensors.writeSharded(dir, weights.hostTensors(dtype), shardBytes);
        else Safetensors.write(dir.resolve(Safetensors.SINGLE_FILE), weights.hostTensors(dtype), Map.of("format", "pt"));
        return dir;
    }

    private static void gaussian(Map<String, float[]> values, Map<String, long[]> shapes, Random random, String name, double scale,
                                 double mean, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (mean + scale * random.nextGaussian());
        values.put(name, v);
        shapes.put(name, shape);
    }
}
