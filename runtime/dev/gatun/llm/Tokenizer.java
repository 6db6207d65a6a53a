package dev.gatun.llm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * Text ↔ token ids. Two implementations: {@link BpeTokenizer} reads a Hugging Face
 * {@code tokenizer.json} (byte-level BPE, as Llama 3, Qwen and SmolLM ship), {@link ByteTokenizer}
 * is the byte-level fallback for test models (ids 0..255 are bytes, then the special tokens).
 *
 * <p>Every token decodes to bytes; {@link #decode} joins them and reads UTF-8, and
 * {@link #streamDecoder()} does the same incrementally for streaming, holding back bytes that do
 * not yet form complete UTF-8 characters. {@link #encode} does not add a BOS token: the caller
 * (the engine, a chat template) decides.
 */
public interface Tokenizer {
    /** The token ids of {@code text}; special tokens written in the text are matched first, as one id each. */
    int[] encode(String text);

    /** The bytes that token {@code id} stands for (a special token: its content in UTF-8). */
    byte[] tokenBytes(int id);

    /** Number of ids: every id in {@code [0, vocabSize())} is valid. */
    int vocabSize();

    /** Whether {@code id} is a special (control) token such as BOS, EOS or a chat marker. */
    boolean isSpecial(int id);

    /** The id of a token given by its exact text (a special token's content, or a vocabulary entry). */
    OptionalInt tokenId(String token);

    /** The text of {@code ids}; invalid UTF-8 becomes U+FFFD. */
    default String decode(int[] ids) { return decode(ids, false); }

    /** The text of {@code ids}, leaving out special tokens if asked. */
    default String decode(int[] ids, boolean skipSpecial) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int id : ids) {
            checkId(id);
            if (!(skipSpecial && isSpecial(id))) out.writeBytes(tokenBytes(id));
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A decoder for one stream of ids (one request): text comes out as soon as its UTF-8 is complete. */
    default StreamDecoder streamDecoder() { return new StreamDecoder(this, false); }

    default StreamDecoder streamDecoder(boolean skipSpecial) { return new StreamDecoder(this, skipSpecial); }

    /** Throws a clear exception unless {@code id} is in {@code [0, vocabSize())}. */
    default void checkId(int id) {
        if (id < 0 || id >= vocabSize())
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + vocabSize() + ")");
    }

    /** Loads a Hugging Face tokenizer: {@code path} is a tokenizer.json or a model folder holding one. */
    static Tokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        return BpeTokenizer.load(file);
    }

    /** Incremental decoding: push ids, get the text that became complete. Not thread-safe. */
    final class StreamDecoder {
        private final Tokenizer tokenizer;
        private final boolean skipSpecial;
        private byte[] pending = new byte[0];

        StreamDecoder(Tokenizer tokenizer, boolean skipSpecial) {
            this.tokenizer = tokenizer;
            this.skipSpecial = skipSpecial;
        }

        /** Adds one token and returns the text it completes (possibly empty). */
        public String push(int id) {
            tokenizer.checkId(id);
            if (skipSpecial && tokenizer.isSpecial(id)) return "";
            byte[] add = tokenizer.tokenBytes(id);
            byte[] all = Arrays.copyOf(pending, pending.length + add.length);
            System.arraycopy(add, 0, all, pending.length, add.length);
            int cut = completePrefix(all);
            pending = Arrays.copyOfRange(all, cut, all.length);
            return new String(all, 0, cut, StandardCharsets.UTF_8);
        }

        /** Text of the bytes still held back (incomplete UTF-8 becomes U+FFFD); the decoder is then empty. */
        public String flush() {
            String s = new String(pending, StandardCharsets.UTF_8);
            pending = new byte[0];
            return s;
        }

        /** Bytes held back because they may start a character that the next token completes. */
        public int pendingBytes() { return pending.length; }

        /** Length of the longest prefix that does not end inside a (possibly valid) multi-byte character. */
        static int completePrefix(byte[] b) {
            int n = b.length;
            for (int back = 1; back <= Math.min(3, n); back++) {
                int c = b[n - back] & 0xff;
                if ((c & 0xC0) == 0x80) continue; // continuation byte: look further back
                int need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
                return need > back ? n - back : n;
            }
            return n; // 3+ trailing continuation bytes: nothing valid can complete them
        }
    }

}
