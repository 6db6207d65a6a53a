package dev.gatun.llm;

import static dev.gatun.io.ConfigJson.optionalInt;
import static dev.gatun.io.ConfigJson.optionalNumber;
import static dev.gatun.io.ConfigJson.positive;
import static dev.gatun.io.ConfigJson.requiredInt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.ops.Attention;
import dev.gatun.io.ConfigJson;
import dev.gatun.tensor.DType;

import java.nio.file.Path;

/**
 * The architecture of a Llama-family decoder, as a Hugging Face {@code config.json} describes it.
 * Defaults follow transformers' {@code LlamaConfig}: {@code num_key_value_heads} = heads,
 * {@code head_dim} = hidden / heads, {@code rms_norm_eps} 1e-6, {@code rope_theta} 10000,
 * {@code tie_word_embeddings} false, {@code max_position_embeddings} 2048.
 *
 * <p>RoPE scaling ({@code rope_scaling}): absent, null or {@code "default"}; {@code "linear"}
 * ({@code factor}); {@code "llama3"} ({@code factor}, {@code low_freq_factor},
 * {@code high_freq_factor}, {@code original_max_position_embeddings}), as transformers computes
 * them. Types whose effect is not a fixed rescaling of the frequencies ({@code "dynamic"},
 * {@code "yarn"}, {@code "longrope"}) are rejected with a message rather than run with wrong
 * positions.
 */
public record LlamaConfig(int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads, int headDim,
                          float rmsNormEps, float ropeTheta, int vocabSize, boolean tieWordEmbeddings,
                          int maxPositionEmbeddings, DType torchDtype, Attention.RopeScaling ropeScaling) {

    /** A config without RoPE scaling. */
    public LlamaConfig(int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads, int headDim,
                       float rmsNormEps, float ropeTheta, int vocabSize, boolean tieWordEmbeddings, int maxPositionEmbeddings,
                       DType torchDtype) {
        this(hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, rmsNormEps, ropeTheta, vocabSize,
                tieWordEmbeddings, maxPositionEmbeddings, torchDtype, Attention.RopeScaling.NONE);
    }

    public LlamaConfig {
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0)
            throw new IllegalArgumentException("config: num_attention_heads (" + numHeads + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        if (headDim % 8 != 0 || headDim > Attention.MAX_HEAD_DIM)
            throw new IllegalArgumentException("config: head_dim " + headDim + " is not supported: the attention kernels need a multiple of 8 up to "
                    + Attention.MAX_HEAD_DIM);
        if (!(rmsNormEps > 0) || !Float.isFinite(rmsNormEps))
            throw new IllegalArgumentException("config: rms_norm_eps must be a positive number, got " + rmsNormEps);
        if (!(ropeTheta > 1) || !Float.isFinite(ropeTheta))
            throw new IllegalArgumentException("config: rope_theta must be > 1, got " + ropeTheta);
        if (torchDtype == null || !torchDtype.isFloatingPoint())
            throw new IllegalArgumentException("config: torch_dtype must be float32, float16 or bfloat16, got " + torchDtype);
        if (ropeScaling == null) throw new IllegalArgumentException("config: ropeScaling is null (RopeScaling.NONE for none)");
    }

    /** Reads {@code config.json} (a file, or a model folder holding one). */
    public static LlamaConfig load(Path path) { return ConfigJson.load(path, LlamaConfig::fromJson); }

    /** Parses a config.json tree. */
    public static LlamaConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config: expected a JSON object");
        JsonNode modelType = root.get("model_type");
        if (modelType != null && modelType.isTextual() && !modelType.asText().equals("llama"))
            throw new IllegalArgumentException("config: model_type \"" + modelType.asText() + "\" is not supported (only \"llama\")");
        int hidden = requiredInt(root, "hidden_size");
        int heads = requiredInt(root, "num_attention_heads");
        int kvHeads = optionalInt(root, "num_key_value_heads", heads);
        if (heads > 0 && hidden % heads != 0 && !root.hasNonNull("head_dim"))
            throw new IllegalArgumentException("config: hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads + " and head_dim is absent");
        int headDim = optionalInt(root, "head_dim", heads > 0 ? hidden / heads : 0);
        Attention.RopeScaling ropeScaling = ropeScaling(root.get("rope_scaling"));
        if (root.path("attention_bias").asBoolean(false))
            throw new IllegalArgumentException("config: attention_bias true is not supported");
        if (root.path("mlp_bias").asBoolean(false)) throw new IllegalArgumentException("config: mlp_bias true is not supported");
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new IllegalArgumentException("config: hidden_act \"" + act + "\" is not supported (only \"silu\")");
        return new LlamaConfig(hidden, requiredInt(root, "intermediate_size"), requiredInt(root, "num_hidden_layers"), heads, kvHeads,
                headDim, (float) optionalNumber(root, "rms_norm_eps", 1e-6), (float) optionalNumber(root, "rope_theta", 10000),
                requiredInt(root, "vocab_size"), root.path("tie_word_embeddings").asBoolean(false),
                optionalInt(root, "max_position_embeddings", 2048), ConfigJson.torchDtype(root), ropeScaling);
    }

    private static Attention.RopeScaling ropeScaling(JsonNode scaling) {
        if (scaling == null || scaling.isNull()) return Attention.RopeScaling.NONE;
        if (!scaling.isObject()) throw new IllegalArgumentException("config: rope_scaling must be an object or null, got " + scaling);
        String type = scaling.path("rope_type").asText(scaling.path("type").asText(""));
        return switch (type) {
            case "default" -> Attention.RopeScaling.NONE;
            case "linear" -> Attention.RopeScaling.linear((float) requiredNumber(scaling, "factor"));
            case "llama3" -> Attention.RopeScaling.llama3((float) requiredNumber(scaling, "factor"),
                    (float) requiredNumber(scaling, "low_freq_factor"), (float) requiredNumber(scaling, "high_freq_factor"),
                    (int) requiredNumber(scaling, "original_max_position_embeddings"));
            default -> throw new IllegalArgumentException("config: rope_scaling of type \"" + type + "\" is not supported (only "
                    + "\"default\", \"linear\" and \"llama3\"): its frequencies are not a fixed rescaling, and running it as one "
                    + "would give wrong positions");
        };
    }

    private static double requiredNumber(JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException("config: rope_scaling." + key + " must be a number, got " + v);
        return v.asDouble();
    }

    /** The config as config.json content (what tests write into a model folder). */
    public ObjectNode toJson() {
        ObjectNode o = ConfigJson.object();
        o.putArray("architectures").add("LlamaForCausalLM");
        o.put("model_type", "llama");
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", numLayers);
        o.put("num_attention_heads", numHeads);
        o.put("num_key_value_heads", numKvHeads);
        o.put("head_dim", headDim);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        o.put("vocab_size", vocabSize);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        if (ropeScaling.equals(Attention.RopeScaling.NONE)) o.putNull("rope_scaling");
        else if (ropeScaling.originalMaxPositions() == 0) o.putObject("rope_scaling").put("rope_type", "linear").put("factor", ropeScaling.factor());
        else o.putObject("rope_scaling").put("rope_type", "llama3").put("factor", ropeScaling.factor())
                    .put("low_freq_factor", ropeScaling.lowFreqFactor()).put("high_freq_factor", ropeScaling.highFreqFactor())
                    .put("original_max_position_embeddings", (int) ropeScaling.originalMaxPositions());
        o.put("hidden_act", "silu");
        o.put("torch_dtype", ConfigJson.torchDtypeName(torchDtype));
        return o;
    }

    /** Writes {@code config.json} into {@code dir}. */
    public void save(Path dir) { ConfigJson.save(dir, toJson()); }

    /** The rotary embedding of this model: NeoX style over the whole head, theta and scaling from the config. */
    public Attention.Rope rope() { return new Attention.Rope(headDim, ropeTheta, Attention.RopeStyle.NEOX, ropeScaling); }

    public int qDim() { return numHeads * headDim; }

    public int kvDim() { return numKvHeads * headDim; }






}
