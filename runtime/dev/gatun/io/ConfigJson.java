package dev.gatun.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * A model folder's {@code config.json}, as Hugging Face writes it: reading (every error names the
 * file and the key), typed fields, {@code torch_dtype} names, and writing. Shared by the model
 * configs (LlamaConfig, VideoDitConfig).
 */
public final class ConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigJson() {}

    /** A new empty object to fill and {@link #save}. */
    public static ObjectNode object() { return JSON.createObjectNode(); }

    /**
     * Parses {@code config.json} of a model folder (or the file itself) with {@code parse}; a
     * missing or unreadable file, or a parse error, becomes one IllegalArgumentException naming it.
     */
    public static <T> T load(Path path, Function<JsonNode, T> parse) {
        Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("model config " + file + " does not exist", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read model config " + file + ": " + e.getMessage(), e);
        }
        try {
            return parse.apply(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code config} as {@code dir/config.json} (creating dir). */
    public static void save(Path dir, ObjectNode config) {
        try {
            Files.createDirectories(dir);
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("config.json"), e);
        }
    }

    public static int requiredInt(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new IllegalArgumentException("config: \"" + key + "\" is missing");
        return asInt(n, key);
    }

    public static int optionalInt(JsonNode root, String key, int fallback) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? fallback : asInt(n, key);
    }

    public static int asInt(JsonNode n, String key) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt())
            throw new IllegalArgumentException("config: \"" + key + "\" must be an integer, got " + n);
        return n.asInt();
    }

    public static double optionalNumber(JsonNode root, String key, double fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new IllegalArgumentException("config: \"" + key + "\" must be a number, got " + n);
        return n.asDouble();
    }

    /** {@code torch_dtype}: float32 (also when absent), float16 or bfloat16. */
    public static DType torchDtype(JsonNode root) {
        JsonNode node = root.get("torch_dtype");
        if (node == null || node.isNull()) return DType.F32;
        return switch (node.asText()) {
            case "float32" -> DType.F32;
            case "float16" -> DType.F16;
            case "bfloat16" -> DType.BF16;
            default -> throw new IllegalArgumentException("config: torch_dtype \"" + node.asText() + "\" is not supported (float32, float16, bfloat16)");
        };
    }

    /** The {@code torch_dtype} name of a floating-point dtype. */
    public static String torchDtypeName(DType dtype) {
        return switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        };
    }

    /** A positive size, or an IllegalArgumentException naming the key. */
    public static void positive(String key, int value) {
        if (value < 1) throw new IllegalArgumentException("config: " + key + " must be >= 1, got " + value);
    }
}
