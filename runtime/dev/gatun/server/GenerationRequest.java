package dev.gatun.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Request;
import dev.gatun.ops.Sampling;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A validated {@code /v1/completions} or {@code /v1/chat/completions} request: the engine
 * {@link Request} (prompt encoded, sampling parameters, token budget, EOS ids) and what the answer
 * needs (stop strings, streaming, the response id). {@link #parse} checks every field
 * {@link OpenAiServer} documents and refuses a bad one with an {@link ApiException} naming it,
 * before anything reaches the engine.
 */
record GenerationRequest(boolean chat, boolean stream, boolean includeUsage, Request request, List<String> stops, String id, long created) {

    /** Default {@code max_tokens} of {@code /v1/completions}, as OpenAI's. */
    static final int DEFAULT_COMPLETION_TOKENS = 16;
    static final int MAX_STOP_STRINGS = 16;
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    /**
     * Validates a completion ({@code chat} false) or chat completion body and encodes its prompt.
     *
     * @param contextTokens the model's context length (prompt + generated tokens)
     * @throws ApiException naming the offending field
     */
    static GenerationRequest parse(JsonNode body, boolean chat, Tokenizer tokenizer, String modelName, int contextTokens,
                                   OpenAiServer.Options options) {
        JsonNode model = field(body, "model");
        if (model != null) {
            if (!model.isTextual()) throw ApiException.invalid("model", "'model' must be a string");
            if (!model.asText().equals(modelName))
                throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                        "the model '" + model.asText() + "' does not exist; this server serves '" + modelName + "'");
        }
        JsonNode n = field(body, "n");
        if (n != null && !(n.isIntegralNumber() && n.asLong() == 1)) throw ApiException.invalid("n", "only n = 1 is supported");

        String text = chat ? ChatTemplate.render(messages(body)) : prompt(body);
        int[] ids = tokenizer.encode(text);
        String promptParam = chat ? "messages" : "prompt";
        if (ids.length == 0) throw ApiException.invalid(promptParam, "the prompt encodes to no tokens");
        if (ids.length > options.maxPromptTokens())
            throw ApiException.invalid(promptParam, "context_length_exceeded",
                    "the prompt has " + ids.length + " tokens, more than this server's limit of " + options.maxPromptTokens());
        int room = contextTokens - ids.length;
        if (room < 1)
            throw ApiException.invalid(promptParam, "context_length_exceeded",
                    "the prompt has " + ids.length + " tokens and leaves no room in the model's context of " + contextTokens + " tokens");

        int maxTokens = maxTokens(body, chat, ids.length, contextTokens, options);
        Sampling.Params params = sampling(body);
        List<String> stops = stops(body);
        Boolean stream = optBoolean(body, "stream");
        boolean includeUsage = includeUsage(body);
        JsonNode logprobs = field(body, "logprobs");
        if (logprobs != null && !(logprobs.isBoolean() && !logprobs.asBoolean()))
            throw ApiException.invalid("logprobs", "'logprobs' is not supported");

        Boolean ignoreEos = optBoolean(body, "ignore_eos");
        Request request = new Request(ids, params, maxTokens, ignoreEos != null && ignoreEos ? new int[0] : options.eosTokens(), null);
        String id = (chat ? "chatcmpl-" : "cmpl-") + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        return new GenerationRequest(chat, stream != null && stream, includeUsage, request, stops, id, Instant.now().getEpochSecond());
    }

    /** max_tokens (or chat's max_completion_tokens) checked against the server's limit and the room the prompt leaves; else the default. */
    private static int maxTokens(JsonNode body, boolean chat, int promptTokens, int contextTokens, OpenAiServer.Options options) {
        int room = contextTokens - promptTokens;
        String maxParam = chat && field(body, "max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        Long asked = optLong(body, maxParam);
        if (asked != null) {
            if (asked < 1) throw ApiException.invalid(maxParam, "'" + maxParam + "' must be >= 1, got " + asked);
            if (asked > options.maxTokens())
                throw ApiException.invalid(maxParam, "'" + maxParam + "' is " + asked + ", more than this server's limit of " + options.maxTokens());
            if (asked > room)
                throw ApiException.invalid(maxParam, "context_length_exceeded", "the prompt (" + promptTokens + " tokens) + " + maxParam + " (" + asked + ") = "
                        + (promptTokens + asked) + " exceeds the model's context of " + contextTokens + " tokens");
            return asked.intValue();
        }
        return Math.min(Math.min(room, options.maxTokens()), chat ? Integer.MAX_VALUE : DEFAULT_COMPLETION_TOKENS);
    }

    /** temperature (default 1; 0 = greedy), top_k (0 or -1 = off), top_p, seed (default: random). */
    private static Sampling.Params sampling(JsonNode body) {
        Double temperature = optDouble(body, "temperature");
        Double topP = optDouble(body, "top_p");
        Long topK = optLong(body, "top_k");
        Long seed = optLong(body, "seed");
        // bounded by float's range here, so that 1e40 is refused by name rather than as Infinity below
        if (temperature != null && !(temperature >= 0 && temperature <= Float.MAX_VALUE))
            throw ApiException.invalid("temperature", "'temperature' must be a finite number >= 0 (0 = greedy), got " + temperature);
        if (topP != null && !(topP > 0 && topP <= 1)) throw ApiException.invalid("top_p", "'top_p' must be in (0, 1], got " + topP);
        if (topK != null && (topK < -1 || topK > Integer.MAX_VALUE)) throw ApiException.invalid("top_k", "'top_k' must be >= 0 (0 or -1 = off), got " + topK);
        try {
            return new Sampling.Params(temperature == null ? 1f : temperature.floatValue(), topK == null || topK < 0 ? 0 : topK.intValue(),
                    topP == null ? 1f : topP.floatValue(), seed == null ? ThreadLocalRandom.current().nextLong() : seed);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
    }

    private static boolean includeUsage(JsonNode body) {
        JsonNode so = field(body, "stream_options");
        if (so == null) return false;
        if (!so.isObject()) throw ApiException.invalid("stream_options", "'stream_options' must be an object");
        Boolean iu = optBoolean(so, "include_usage");
        return iu != null && iu;
    }

    private static String prompt(JsonNode body) {
        JsonNode p = field(body, "prompt");
        if (p == null) throw ApiException.invalid("prompt", "'prompt' is required");
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) p = p.get(0);
        if (!p.isTextual()) throw ApiException.invalid("prompt", "'prompt' must be a string (token-id prompts and batches of prompts are not supported)");
        if (p.asText().isEmpty()) throw ApiException.invalid("prompt", "'prompt' is empty");
        return p.asText();
    }

    private static List<ChatTemplate.Message> messages(JsonNode body) {
        JsonNode ms = field(body, "messages");
        if (ms == null) throw ApiException.invalid("messages", "'messages' is required");
        if (!ms.isArray()) throw ApiException.invalid("messages", "'messages' must be a list of {role, content} objects");
        if (ms.isEmpty()) throw ApiException.invalid("messages", "'messages' is empty");
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid(at, "'" + at + "' must be an object {role, content}");
            JsonNode role = field(m, "role");
            if (role == null || !role.isTextual()) throw ApiException.invalid(at + ".role", "'" + at + ".role' must be a string");
            if (!ROLES.contains(role.asText()))
                throw ApiException.invalid(at + ".role", "'" + at + ".role' is '" + role.asText() + "'; expected one of system, developer, user, assistant, tool");
            JsonNode content = field(m, "content");
            StringBuilder text = new StringBuilder();
            if (content == null) {
                // only an assistant message may come without content (as in OpenAI's API)
                if (!role.asText().equals("assistant"))
                    throw ApiException.invalid(at + ".content", "'" + at + ".content' is required for a " + role.asText() + " message");
            } else if (content.isTextual()) text.append(content.asText());
            else if (content.isArray()) {
                for (int j = 0; j < content.size(); j++) {
                    JsonNode part = content.get(j);
                    String pat = at + ".content[" + j + "]";
                    if (!part.isObject() || !"text".equals(part.path("type").asText(null)) || !part.path("text").isTextual())
                        throw ApiException.invalid(pat, "'" + pat + "' must be {\"type\": \"text\", \"text\": string}; only text is supported");
                    text.append(part.get("text").asText());
                }
            } else throw ApiException.invalid(at + ".content", "'" + at + ".content' must be a string or a list of text parts");
            out.add(new ChatTemplate.Message(role.asText(), text.toString()));
        }
        return out;
    }

    private static List<String> stops(JsonNode body) {
        JsonNode s = field(body, "stop");
        if (s == null) return List.of();
        List<String> out = new ArrayList<>();
        if (s.isTextual()) out.add(s.asText());
        else if (s.isArray()) {
            if (s.size() > MAX_STOP_STRINGS) throw ApiException.invalid("stop", "'stop' has " + s.size() + " strings; at most " + MAX_STOP_STRINGS);
            for (JsonNode e : s) {
                if (!e.isTextual()) throw ApiException.invalid("stop", "'stop' must be a string or a list of strings");
                out.add(e.asText());
            }
        } else throw ApiException.invalid("stop", "'stop' must be a string or a list of strings");
        if (out.stream().anyMatch(String::isEmpty)) throw ApiException.invalid("stop", "'stop' strings must not be empty");
        return out;
    }

    /** The field, or null when it is absent or JSON null (OpenAI clients send null for "not set"). */
    private static JsonNode field(JsonNode o, String name) {
        JsonNode v = o.get(name);
        return v == null || v.isNull() ? null : v;
    }

    private static Long optLong(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiException.invalid(name, "'" + name + "' must be an integer, got " + v);
        return v.asLong();
    }

    private static Double optDouble(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isNumber()) throw ApiException.invalid(name, "'" + name + "' must be a number, got " + v);
        return v.asDouble();
    }

    private static Boolean optBoolean(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (v == null) return null;
        if (!v.isBoolean()) throw ApiException.invalid(name, "'" + name + "' must be true or false, got " + v);
        return v.asBoolean();
    }
}
