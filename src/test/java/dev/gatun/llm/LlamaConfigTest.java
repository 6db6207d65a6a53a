package dev.gatun.llm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.ops.Attention;
import dev.gatun.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static ObjectNode minimal() {
        ObjectNode o = JSON.createObjectNode();
        o.put("hidden_size", 64).put("intermediate_size", 128).put("num_hidden_layers", 2).put("num_attention_heads", 4).put("vocab_size", 300);
        return o;
    }

    @Test
    void defaultsFollowTransformers() {
        LlamaConfig c = LlamaConfig.fromJson(minimal());
        assertEquals(4, c.numKvHeads());
        assertEquals(16, c.headDim());
        assertEquals(1e-6f, c.rmsNormEps());
        assertEquals(10000f, c.ropeTheta());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(DType.F32, c.torchDtype());
        assertEquals(new Attention.Rope(16, 10000f, Attention.RopeStyle.NEOX), c.rope());
    }

    @Test
    void roundTripsThroughConfigJson(@TempDir Path dir) {
        LlamaConfig c = new LlamaConfig(64, 128, 2, 4, 2, 32, 1e-5f, 500000f, 300, true, 4096, DType.BF16);
        c.save(dir);
        assertEquals(c, LlamaConfig.load(dir));
    }

    @Test
    void readsRopeScalingAsTransformersNamesIt(@TempDir Path dir) {
        ObjectNode llama3 = minimal();
        llama3.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
        LlamaConfig c = LlamaConfig.fromJson(llama3);
        assertEquals(Attention.RopeScaling.llama3(8, 1, 4, 8192), c.rope().scaling());
        c.save(dir);
        assertEquals(c, LlamaConfig.load(dir));
        ObjectNode linear = minimal();
        linear.putObject("rope_scaling").put("type", "linear").put("factor", 2.0); // the older key
        assertEquals(Attention.RopeScaling.linear(2), LlamaConfig.fromJson(linear).ropeScaling());
        ObjectNode defaultScaling = minimal();
        defaultScaling.putObject("rope_scaling").put("rope_type", "default");
        assertEquals(Attention.RopeScaling.NONE, LlamaConfig.fromJson(defaultScaling).ropeScaling());
    }

    @Test
    void sizesBelowOneAreRefusedByName() {
        for (String key : new String[] {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings"}) {
            ObjectNode zero = minimal().put(key, 0);
            var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(zero), key);
            assertTrue(e.getMessage().contains(key + " must be >= 1, got 0"), e.getMessage());
        }
    }

    @Test
    void limitsAreInclusive() {
        // sizes of exactly 1 (MQA: one KV head; one layer), the largest head dim, eps and theta just inside
        LlamaConfig c = LlamaConfig.fromJson(minimal().put("num_key_value_heads", 1).put("num_hidden_layers", 1)
                .put("head_dim", Attention.MAX_HEAD_DIM).put("rope_theta", 1.5).put("rms_norm_eps", Float.MIN_VALUE));
        assertEquals(1, c.numKvHeads());
        assertEquals(Attention.MAX_HEAD_DIM, c.headDim());
        assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(minimal().put("head_dim", Attention.MAX_HEAD_DIM + 8)));
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(minimal().put("rope_theta", 1.0)));
        assertTrue(e.getMessage().contains("rope_theta"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(minimal().put("rms_norm_eps", 0.0)));
        assertTrue(e.getMessage().contains("rms_norm_eps"), e.getMessage());
    }

    @Test
    void rejectsWhatItCannotRun() {
        ObjectNode yarn = minimal();
        yarn.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(yarn));
        assertTrue(e.getMessage().contains("\"yarn\" is not supported"), e.getMessage());
        ObjectNode noFactor = minimal();
        noFactor.putObject("rope_scaling").put("rope_type", "linear");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(noFactor));
        assertTrue(e.getMessage().contains("rope_scaling.factor"), e.getMessage());
        ObjectNode inverted = minimal();
        inverted.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 4.0)
                .put("high_freq_factor", 1.0).put("original_max_position_embeddings", 8192);
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(inverted));
        assertTrue(e.getMessage().contains("low_freq_factor < high_freq_factor"), e.getMessage());

        ObjectNode missing = minimal();
        missing.remove("vocab_size");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(missing));
        assertTrue(e.getMessage().contains("vocab_size"), e.getMessage());

        ObjectNode gqa = minimal().put("num_key_value_heads", 3);
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(gqa));
        assertTrue(e.getMessage().contains("num_key_value_heads"), e.getMessage());

        ObjectNode headDim = minimal().put("head_dim", 12);
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(headDim));
        assertTrue(e.getMessage().contains("head_dim 12"), e.getMessage());

        ObjectNode dtype = minimal().put("torch_dtype", "float64");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(dtype));
        assertTrue(e.getMessage().contains("float64"), e.getMessage());

        ObjectNode text = minimal().put("hidden_size", "64");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(text));
        assertTrue(e.getMessage().contains("hidden_size") && e.getMessage().contains("integer"), e.getMessage());

        ObjectNode other = minimal().put("model_type", "mistral");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(other));
        assertTrue(e.getMessage().contains("mistral"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.load(Path.of("/nonexistent/model")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
}
