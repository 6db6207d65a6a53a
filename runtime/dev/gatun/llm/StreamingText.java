package dev.gatun.llm;

import java.util.List;

/**
 * The text of one request's tokens as it streams: UTF-8 is decoded incrementally (special tokens
 * and ids beyond the tokenizer's vocabulary are left out), and OpenAI {@code stop} strings are
 * applied to the decoded text: the output ends just before the first occurrence of any of them.
 * Text that could still turn out to be the start of a stop string is held back until the next
 * token decides it, so a streamed client never receives text that is later cut. Not thread-safe.
 *
 * <p>Feed it the tokens of a {@code RequestHandle}; when {@link #stopped()} turns true, cancel the
 * request (its KV blocks are freed) and use {@link #text()} as the completion, with finish reason
 * "stop". The engine itself stops on token ids only, since it has no tokenizer.
 */
public final class StreamingText {
    private final Tokenizer tokenizer;
    private final Tokenizer.StreamDecoder decoder;
    private final List<String> stops;
    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private boolean stopped;

    public StreamingText(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.decoder = tokenizer.streamDecoder(true);
        this.stops = List.copyOf(stops);
    }

    /** Adds one generated token; returns the text that is now final (possibly empty). */
    public String push(int token) {
        if (stopped) return "";
        if (token < 0 || token >= tokenizer.vocabSize()) return ""; // a model's vocabulary may be padded beyond the tokenizer's
        text.append(decoder.push(token));
        return release(false);
    }

    /** The end of generation: flushes the decoder and returns the rest of the text. */
    public String finish() {
        if (stopped) return "";
        text.append(decoder.flush());
        return release(true);
    }

    /** Whether a stop string was found: the request should be cancelled, its text is final. */
    public boolean stopped() { return stopped; }

    /** The final text so far (all of it once {@link #finish} or a stop). */
    public String text() { return text.substring(0, emitted); }

    private String release(boolean end) {
        int cut = -1;
        for (String s : stops) {
            // a stop string cannot start before `emitted`: text that might begin one is never released
            int at = text.indexOf(s, emitted);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        int upTo;
        if (cut >= 0) {
            stopped = true;
            text.setLength(cut);
            upTo = cut;
        } else upTo = end ? text.length() : text.length() - heldBack();
        String out = text.substring(emitted, upTo);
        emitted = upTo;
        return out;
    }

    /** Length of the longest suffix of the text that is a proper prefix of a stop string. */
    private int heldBack() {
        int best = 0;
        for (String s : stops)
            for (int k = Math.min(s.length() - 1, text.length() - emitted); k > best; k--)
                if (suffixIs(s, k)) {
                    best = k;
                    break;
                }
        return best;
    }

    private boolean suffixIs(String s, int k) {
        int from = text.length() - k;
        for (int i = 0; i < k; i++)
            if (text.charAt(from + i) != s.charAt(i)) return false;
        return true;
    }
}
