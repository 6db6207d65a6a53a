package dev.gatun.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gatun.llm.ByteTokenizer;
import dev.gatun.llm.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The request parser on its own (no HTTP, no engine): the defaults OpenAI clients rely on, the
 * shapes OpenAI accepts, and each refusal naming its field. {@link OpenAiServerTest} covers the
 * same refusals end to end.
 */
class GenerationRequestTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Tokenizer BYTES = new ByteTokenizer(List.of("<|eos|>"));
    static final int CONTEXT = 100, EOS = 256;
    static final OpenAiServer.Options OPTIONS = OpenAiServer.Options.defaults().withMaxTokens(40).withMaxPromptTokens(90).withEosTokens(EOS);

    static GenerationRequest parse(String body, boolean chat) throws Exception {
        return GenerationRequest.parse(JSON.readTree(body), chat, BYTES, "m", CONTEXT, OPTIONS);
    }

    static GenerationRequest completion(String fields) throws Exception { return parse("{\"prompt\": \"abcd\"" + fields + "}", false); }

    /** The refusal of {@code body}: a 400 (unless said) whose param is {@code param}. */
    static ApiException refused(String body, boolean chat, String param) {
        ApiException e = assertThrows(ApiException.class, () -> parse(body, chat), body);
        assertEquals(param, e.param, body + ": " + e.getMessage());
        return e;
    }

    @Test
    void completionDefaults() throws Exception {
        GenerationRequest r = completion("");
        assertFalse(r.chat() || r.stream() || r.includeUsage());
        assertArrayEquals(BYTES.encode("abcd"), r.request().prompt());
        assertEquals(GenerationRequest.DEFAULT_COMPLETION_TOKENS, r.request().maxNewTokens());
        assertEquals(1f, r.request().params().temperature());
        assertEquals(0, r.request().params().topK());
        assertEquals(1f, r.request().params().topP());
        assertArrayEquals(new int[] {EOS}, r.request().stopTokens());
        assertEquals(List.of(), r.stops());
        assertTrue(r.id().startsWith("cmpl-"), r.id());
        // JSON null is "not set", as OpenAI's clients send it
        GenerationRequest nulls = completion(", \"max_tokens\": null, \"temperature\": null, \"stop\": null, \"model\": null, \"n\": null");
        assertEquals(GenerationRequest.DEFAULT_COMPLETION_TOKENS, nulls.request().maxNewTokens());
        assertEquals(1f, nulls.request().params().temperature());
    }

    @Test
    void tokenBudgets() throws Exception {
        // chat defaults to the rest of the context, capped by the server's max_tokens
        GenerationRequest chat = parse("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", true);
        int promptTokens = BYTES.encode(ChatTemplate.render(List.of(new ChatTemplate.Message("user", "hi")))).length;
        assertEquals(Math.min(CONTEXT - promptTokens, 40), chat.request().maxNewTokens());
        assertTrue(chat.id().startsWith("chatcmpl-"), chat.id());
        // a long chat prompt leaves less than the cap: the rest of the context
        String longChat = "{\"messages\": [{\"role\": \"user\", \"content\": \"" + "x".repeat(50) + "\"}]}";
        int longTokens = BYTES.encode(ChatTemplate.render(List.of(new ChatTemplate.Message("user", "x".repeat(50))))).length;
        assertTrue(CONTEXT - longTokens < 40);
        assertEquals(CONTEXT - longTokens, parse(longChat, true).request().maxNewTokens());
        assertEquals(16, parse("{\"prompt\": \"" + "x".repeat(80) + "\"}", false).request().maxNewTokens());
        assertEquals(12, parse("{\"prompt\": \"" + "x".repeat(88) + "\"}", false).request().maxNewTokens(), "completions: 16 capped by the room left");
        assertEquals(7, parse("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"max_completion_tokens\": 7}", true).request().maxNewTokens());
        assertEquals(40, completion(", \"max_tokens\": 40").request().maxNewTokens(), "the server's limit is inclusive");
        refused("{\"prompt\": \"abcd\", \"max_tokens\": 41}", false, "max_tokens");
        refused("{\"prompt\": \"abcd\", \"max_tokens\": 0}", false, "max_tokens");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"max_completion_tokens\": 0}", true, "max_completion_tokens");
        assertEquals("context_length_exceeded", refused("{\"prompt\": \"" + "x".repeat(80) + "\", \"max_tokens\": 21}", false, "max_tokens").code);
        assertEquals(20, parse("{\"prompt\": \"" + "x".repeat(80) + "\", \"max_tokens\": 20}", false).request().maxNewTokens());
        assertEquals("context_length_exceeded", refused("{\"prompt\": \"" + "x".repeat(91) + "\"}", false, "prompt").code);
    }

    @Test
    void samplingAndStreamingFields() throws Exception {
        GenerationRequest r = completion(", \"temperature\": 0, \"top_k\": -1, \"top_p\": 0.5, \"seed\": 7, \"stream\": true,"
                + " \"stream_options\": {\"include_usage\": true}, \"logprobs\": false, \"ignore_eos\": true, \"stop\": \"\\n\"");
        assertEquals(0f, r.request().params().temperature());
        assertEquals(0, r.request().params().topK(), "-1 is off");
        assertEquals(0.5f, r.request().params().topP());
        assertEquals(7L, r.request().params().seed());
        assertTrue(r.stream() && r.includeUsage());
        assertArrayEquals(new int[0], r.request().stopTokens(), "ignore_eos drops the EOS ids");
        assertEquals(List.of("\n"), r.stops());
        assertEquals(3, completion(", \"top_k\": 3").request().params().topK());
        assertEquals(List.of("a", "b"), completion(", \"stop\": [\"a\", \"b\"]").stops());
        assertFalse(completion(", \"stream\": true").includeUsage(), "usage only when asked");

        refused("{\"prompt\": \"a\", \"top_k\": -2}", false, "top_k");
        refused("{\"prompt\": \"a\", \"top_p\": 1.5}", false, "top_p");
        refused("{\"prompt\": \"a\", \"seed\": \"s\"}", false, "seed");
        refused("{\"prompt\": \"a\", \"logprobs\": true}", false, "logprobs");
        refused("{\"prompt\": \"a\", \"stream_options\": true}", false, "stream_options");
        refused("{\"prompt\": \"a\", \"stream_options\": {\"include_usage\": 1}}", false, "include_usage");
        refused("{\"prompt\": \"a\", \"ignore_eos\": \"yes\"}", false, "ignore_eos");
        refused("{\"prompt\": \"a\", \"stop\": [\"\"]}", false, "stop");
        refused("{\"prompt\": \"a\", \"stop\": " + JSON.writeValueAsString(List.of("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q".split(","))) + "}", false, "stop");
        assertEquals(GenerationRequest.MAX_STOP_STRINGS, completion(", \"stop\": "
                + JSON.writeValueAsString(List.of("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p".split(",")))).stops().size());
        refused("{\"prompt\": \"a\", \"n\": 1.0}", false, "n");
        assertEquals(GenerationRequest.DEFAULT_COMPLETION_TOKENS, completion(", \"n\": 1").request().maxNewTokens());
    }

    @Test
    void promptsAndMessages() throws Exception {
        assertArrayEquals(BYTES.encode("one"), parse("{\"prompt\": [\"one\"]}", false).request().prompt(), "a list of one string");
        refused("{\"prompt\": [\"one\", \"two\"]}", false, "prompt");
        refused("{\"prompt\": [1, 2]}", false, "prompt");
        refused("{\"prompt\": \"\"}", false, "prompt");
        assertEquals(404, refused("{\"prompt\": \"a\", \"model\": \"other\"}", false, "model").status);
        refused("{\"prompt\": \"a\", \"model\": 3}", false, "model");

        String parts = "{\"messages\": [{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"Be \"}, {\"type\": \"text\", \"text\": \"brief.\"}]},"
                + " {\"role\": \"assistant\"}, {\"role\": \"user\", \"content\": \"Hi\"}]}";
        String rendered = ChatTemplate.render(List.of(new ChatTemplate.Message("system", "Be brief."), new ChatTemplate.Message("assistant", ""),
                new ChatTemplate.Message("user", "Hi")));
        assertEquals("<|system|>\nBe brief.\n<|assistant|>\n\n<|user|>\nHi\n<|assistant|>\n", rendered);
        assertArrayEquals(BYTES.encode(rendered), parse(parts, true).request().prompt());

        refused("{\"messages\": []}", true, "messages");
        refused("{\"messages\": [\"hi\"]}", true, "messages[0]");
        refused("{\"messages\": [{\"content\": \"hi\"}]}", true, "messages[0].role");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"tool\"}]}", true, "messages[1].content");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", true, "messages[0].content");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}", true, "messages[0].content[0]");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": 1}]}]}", true, "messages[0].content[0]");
    }
}
