package dev.gatun.llm;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stop strings over streamed tokens: nothing released is ever cut, the earliest stop wins, UTF-8 split across tokens. */
class StreamingTextTest {
    private final Tokenizer tokenizer = new ByteTokenizer(List.of());

    private static String pushAll(StreamingText t, String s) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) out.append(t.push(b & 0xff));
        return out.toString();
    }

    @Test
    void holdsBackWhatMayStartAStopString() {
        StreamingText a = new StreamingText(tokenizer, List.of("abc", "xyz"));
        StringBuilder out = new StringBuilder(pushAll(a, "hello ab"));
        assertEquals("hello ", out.toString(), "'ab' may start 'abc'");
        out.append(pushAll(a, "d"));
        assertEquals("hello abd", out.toString());
        out.append(pushAll(a, "-xyz-more"));
        assertTrue(a.stopped());
        assertEquals("hello abd-", out.toString());
        assertEquals("hello abd-", a.text());
        assertEquals("", a.push('q'), "nothing after a stop");

        StreamingText b = new StreamingText(tokenizer, List.of("abc"));
        assertEquals("", b.push('a'));
        assertEquals("a", b.finish(), "held-back text is released at the end");
        assertFalse(b.stopped());
    }

    @Test
    void theEarliestStopWinsAndMultiByteCharactersStayWhole() {
        StreamingText t = new StreamingText(tokenizer, List.of("éé", "é!"));
        String out = pushAll(t, "café!éé");
        assertTrue(t.stopped());
        assertEquals("caf", out + t.finish(), "'é!' starts before 'éé'");
        StreamingText plain = new StreamingText(tokenizer, List.of());
        String first = pushAll(plain, "ü".substring(0, 1)); // two bytes: nothing until both arrived
        assertEquals("ü", first);
        StreamingText half = new StreamingText(tokenizer, List.of());
        assertEquals("", half.push(0xC3), "the first byte of 'ü' alone is not text yet");
        assertEquals("ü", half.push(0xBC));
    }

    @Test
    void aStopAtTheStartAndTokensPastTheVocabulary() {
        StreamingText t = new StreamingText(tokenizer, List.of("ab"));
        assertEquals("", pushAll(t, "ab"));
        assertTrue(t.stopped(), "a stop string that is the whole text so far");
        assertEquals("", t.text());

        // a model's vocabulary may be padded past the tokenizer's: such tokens add no text
        StreamingText padded = new StreamingText(tokenizer, List.of());
        assertEquals("", padded.push(tokenizer.vocabSize()));
        assertEquals("", padded.push(-1));
        assertEquals("x", padded.push('x'));
        assertEquals("x", padded.text());
    }
}
