package dev.gatun.diffusion;

import static dev.gatun.io.ConfigJson.asInt;
import static dev.gatun.io.ConfigJson.optionalNumber;
import static dev.gatun.io.ConfigJson.positive;
import static dev.gatun.io.ConfigJson.requiredInt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.io.ConfigJson;
import dev.gatun.ops.Attention;
import dev.gatun.tensor.DType;

import java.nio.file.Path;

/**
 * The architecture of a {@link VideoDit}, as its folder's {@code config.json} describes it
 * ({@code "model_type": "gatun_video_dit"}; keys in snake case as written by {@link #toJson}).
 *
 * @param inChannels        latent channels C (the model predicts C channels too)
 * @param patchT            frames per patch (pt)
 * @param patchH            latent rows per patch (ph)
 * @param patchW            latent columns per patch (pw)
 * @param hiddenSize        token width D
 * @param numLayers         DiT blocks
 * @param numHeads          attention heads; D / heads is the head dim (a multiple of 8)
 * @param mlpHidden         the MLP's inner width
 * @param frequencyDim      width of the sinusoidal timestep embedding fed to the timestep MLP
 * @param numConditions     condition ids 0..numConditions−1; id numConditions is the learned "null" condition of CFG
 * @param fullAttention     every block attends over all T·S tokens, instead of spatial (even blocks) / temporal (odd blocks)
 * @param prediction        what the model predicts (the sampler's prediction type)
 * @param layerNormEps      the adaLN LayerNorms' eps
 * @param torchDtype        the dtype the weights are loaded in by default
 */
public record VideoDitConfig(int inChannels, int patchT, int patchH, int patchW, int hiddenSize, int numLayers, int numHeads,
                             int mlpHidden, int frequencyDim, int numConditions, boolean fullAttention, PredictionType prediction,
                             float layerNormEps, DType torchDtype) {
    public static final String MODEL_TYPE = "gatun_video_dit";
    /** The timestep embedding's longest period (DiT / ADM). */
    public static final float MAX_PERIOD = 10000;

    public VideoDitConfig {
        positive("in_channels", inChannels);
        positive("patch_size[0]", patchT);
        positive("patch_size[1]", patchH);
        positive("patch_size[2]", patchW);
        positive("hidden_size", hiddenSize);
        positive("num_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("mlp_hidden_size", mlpHidden);
        positive("frequency_embedding_size", frequencyDim);
        if (numConditions < 0) throw new IllegalArgumentException("config: num_conditions must be >= 0, got " + numConditions);
        if (hiddenSize % numHeads != 0)
            throw new IllegalArgumentException("config: hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        int headDim = hiddenSize / numHeads;
        if (headDim % 8 != 0 || headDim > Attention.MAX_HEAD_DIM)
            throw new IllegalArgumentException("config: head dim " + headDim + " (hidden_size / num_attention_heads) is not supported: the attention kernels need a multiple of 8 up to "
                    + Attention.MAX_HEAD_DIM);
        if (prediction == null) throw new IllegalArgumentException("config: prediction_type is required");
        if (!(layerNormEps > 0) || !Float.isFinite(layerNormEps))
            throw new IllegalArgumentException("config: layer_norm_eps must be a positive number, got " + layerNormEps);
        if (torchDtype == null || !torchDtype.isFloatingPoint())
            throw new IllegalArgumentException("config: torch_dtype must be float32, float16 or bfloat16, got " + torchDtype);
    }

    public int headDim() { return hiddenSize / numHeads; }

    /** Features of one patch: C·pt·ph·pw (the patch embedding's input and the final linear's output). */
    public int patchSize() { return inChannels * patchT * patchH * patchW; }

    /** The condition id of the unconditional ("null") embedding. */
    public int nullCondition() { return numConditions; }

    /** Reads {@code config.json} from a model folder (or the file itself). */
    public static VideoDitConfig load(Path path) { return ConfigJson.load(path, VideoDitConfig::fromJson); }

    public static VideoDitConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException("config: expected a JSON object");
        String type = root.path("model_type").asText("");
        if (!type.equals(MODEL_TYPE)) throw new IllegalArgumentException("config: model_type must be \"" + MODEL_TYPE + "\", got \"" + type + "\"");
        JsonNode patch = root.get("patch_size");
        if (patch == null || !patch.isArray() || patch.size() != 3)
            throw new IllegalArgumentException("config: \"patch_size\" must be [pt, ph, pw], got " + patch);
        String attention = root.path("attention").asText("spatiotemporal");
        if (!attention.equals("spatiotemporal") && !attention.equals("full"))
            throw new IllegalArgumentException("config: \"attention\" must be \"spatiotemporal\" or \"full\", got \"" + attention + "\"");
        String prediction = root.path("prediction_type").asText("epsilon");
        PredictionType pt = switch (prediction) {
            case "epsilon" -> PredictionType.EPSILON;
            case "v_prediction" -> PredictionType.V_PREDICTION;
            case "sample" -> PredictionType.SAMPLE;
            case "flow" -> PredictionType.FLOW;
            default -> throw new IllegalArgumentException("config: prediction_type \"" + prediction + "\" is not one of epsilon, v_prediction, sample, flow");
        };
        int hidden = requiredInt(root, "hidden_size");
        return new VideoDitConfig(requiredInt(root, "in_channels"), asInt(patch.get(0), "patch_size"), asInt(patch.get(1), "patch_size"),
                asInt(patch.get(2), "patch_size"), hidden, requiredInt(root, "num_layers"), requiredInt(root, "num_attention_heads"),
                requiredInt(root, "mlp_hidden_size"), root.has("frequency_embedding_size") ? requiredInt(root, "frequency_embedding_size") : 256,
                root.has("num_conditions") ? requiredInt(root, "num_conditions") : 0, attention.equals("full"), pt,
                (float) optionalNumber(root, "layer_norm_eps", 1e-6), ConfigJson.torchDtype(root));
    }

    public ObjectNode toJson() {
        ObjectNode o = ConfigJson.object();
        o.put("model_type", MODEL_TYPE);
        o.put("in_channels", inChannels);
        o.putArray("patch_size").add(patchT).add(patchH).add(patchW);
        o.put("hidden_size", hiddenSize);
        o.put("num_layers", numLayers);
        o.put("num_attention_heads", numHeads);
        o.put("mlp_hidden_size", mlpHidden);
        o.put("frequency_embedding_size", frequencyDim);
        o.put("num_conditions", numConditions);
        o.put("attention", fullAttention ? "full" : "spatiotemporal");
        o.put("prediction_type", switch (prediction) {
            case EPSILON -> "epsilon";
            case V_PREDICTION -> "v_prediction";
            case SAMPLE -> "sample";
            case FLOW -> "flow";
        });
        o.put("layer_norm_eps", layerNormEps);
        o.put("torch_dtype", ConfigJson.torchDtypeName(torchDtype));
        return o;
    }

    /** Writes {@code config.json} into {@code dir}. */
    public void save(Path dir) { ConfigJson.save(dir, toJson()); }




}
