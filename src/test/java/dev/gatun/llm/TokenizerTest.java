package dev.gatun.llm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.testing.Seeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Byte-level BPE from a tokenizer.json written here, and the byte fallback tokenizer. */
class TokenizerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String[][] MERGES = {{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"c", "a"}, {"ca", "t"}, {"Ġ", "cat"}, {"1", "2"}, {"12", "3"}};

    @TempDir Path dir;

    /** 256 byte symbols (id = byte), the merged symbols 256.., two special tokens at 300 and 301. */
    static ObjectNode tokenizerJson(boolean pairMerges, String splitRegex, String extraMerge) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(BpeTokenizer.byteToChar(b)), b);
        ArrayNode merges = model.putArray("merges");
        int id = 256;
        if (extraMerge != null) {
            String[] ab = extraMerge.split(" ");
            merges.add(extraMerge);
            vocab.put(ab[0] + ab[1], id++);
        }
        for (String[] m : MERGES) {
            if (pairMerges) merges.addArray().add(m[0]).add(m[1]);
            else merges.add(m[0] + " " + m[1]);
            vocab.put(m[0] + m[1], id++);
        }
        ArrayNode added = root.putArray("added_tokens");
        added.addObject().put("id", 300).put("content", "<|begin_of_text|>").put("special", true);
        added.addObject().put("id", 301).put("content", "<|eot_id|>").put("special", true);
        root.putNull("normalizer");
        if (splitRegex == null) root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true);
        else {
            ObjectNode seq = root.putObject("pre_tokenizer");
            seq.put("type", "Sequence");
            ArrayNode steps = seq.putArray("pretokenizers");
            ObjectNode split = steps.addObject().put("type", "Split").put("behavior", "Isolated").put("invert", false);
            split.putObject("pattern").put("Regex", splitRegex);
            steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", false);
        }
        root.putObject("decoder").put("type", "ByteLevel");
        return root;
    }

    Tokenizer write(ObjectNode json) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, JSON.writeValueAsString(json));
        return Tokenizer.load(dir);
    }

    @Test
    void encodesWithMergesAndSpecialTokens() throws Exception {
        for (boolean pairs : new boolean[] {false, true}) {
            Tokenizer t = write(tokenizerJson(pairs, null, null));
            assertEquals(302, t.vocabSize());
            // "the" -> t + he (no "t he" merge); " cat" -> Ġcat; " the" -> Ġthe
            int[] ids = t.encode("<|begin_of_text|>the cat the<|eot_id|>");
            assertArrayEquals(new int[] {300, 't', 257, 261, 258, 301}, ids);
            assertEquals("<|begin_of_text|>the cat the<|eot_id|>", t.decode(ids));
            assertEquals("the cat the", t.decode(ids, true));
            assertTrue(t.isSpecial(300) && !t.isSpecial(258));
            assertEquals(258, t.tokenId("Ġthe").orElseThrow());
            assertEquals(301, t.tokenId("<|eot_id|>").orElseThrow());
        }
    }

    @Test
    void llama3SplitRegexGroupsDigitsInThrees() throws Exception {
        // with rank-0 merge "3 4", an unsplit "12345" would merge 3+4 first; split as "123" "45" it cannot
        Tokenizer gpt2 = write(tokenizerJson(false, null, "3 4"));
        Tokenizer llama3 = write(tokenizerJson(false, BpeTokenizer.LLAMA3_SPLIT, "3 4"));
        int id12 = gpt2.tokenId("12").orElseThrow(), id123 = gpt2.tokenId("123").orElseThrow(), id34 = gpt2.tokenId("34").orElseThrow();
        assertArrayEquals(new int[] {id12, id34, '5'}, gpt2.encode("12345"));
        assertArrayEquals(new int[] {id123, '4', '5'}, llama3.encode("12345"));
        String text = "Hello   world's\n\n  ÄÖ 12345 😀 日本語\ttab";
        assertEquals(text, llama3.decode(llama3.encode(text)));
    }

    @Test
    void roundTripsRandomUnicodeAndStreamsWholeCharacters() throws Exception {
        Tokenizer t = write(tokenizerJson(false, null, null));
        Random random = Seeds.random("tokenizer round trip");
        String alphabet = "the cat 12 \n\t\u00e9\u00df\u4e2d\u6587\ud83d\ude00\ud83d\udc4d\u0301<|eot_id|>";
        for (int trial = 0; trial < 200; trial++) {
            StringBuilder sb = new StringBuilder();
            int n = random.nextInt(30);
            for (int i = 0; i < n; i++) {
                int c = random.nextInt(alphabet.length());
                if (Character.isLowSurrogate(alphabet.charAt(c))) c--;
                sb.append(alphabet.charAt(c));
                if (Character.isHighSurrogate(alphabet.charAt(c))) sb.append(alphabet.charAt(c + 1));
            }
            String text = sb.toString();
            int[] ids = t.encode(text);
            assertEquals(text, t.decode(ids), () -> "round trip" + Seeds.replay());
            Tokenizer.StreamDecoder stream = t.streamDecoder();
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                String piece = stream.push(id);
                for (int i = 0; i < piece.length(); i++) assertTrue(piece.charAt(i) != '\uFFFD', "streamed a broken character");
                streamed.append(piece);
            }
            streamed.append(stream.flush());
            assertEquals(text, streamed.toString());
        }
        // an emoji is 4 byte tokens: nothing comes out until the last
        Tokenizer.StreamDecoder s = t.streamDecoder();
        int[] ids = t.encode("a\ud83d\ude00");
        assertEquals(5, ids.length);
        assertEquals("a", s.push(ids[0]));
        assertEquals("", s.push(ids[1]));
        assertEquals("", s.push(ids[2]));
        assertEquals(2, s.pendingBytes());
        assertEquals("", s.push(ids[3]));
        assertEquals("\ud83d\ude00", s.push(ids[4]));
        assertThrows(IllegalArgumentException.class, () -> s.push(302));
    }

    @Test
    void textBetweenSplitMatchesIsItsOwnPiece() throws Exception {
        // Split "\\d" (isolated): every digit is a piece, and so is each run of text between and after them
        Tokenizer digits = write(tokenizerJson(false, "\\d", null));
        int ca = digits.tokenId("ca").orElseThrow();
        assertArrayEquals(new int[] {ca, '1', '2', ca}, digits.encode("ca12ca"), "no merge across pieces: 1 2 stays apart");
        Tokenizer gpt2 = write(tokenizerJson(false, null, null));
        assertArrayEquals(new int[] {ca, gpt2.tokenId("12").orElseThrow(), ca}, gpt2.encode("ca12ca"));
    }

    @Test
    void mergesAtTheEndOfAPieceAndRepeatedPairs() throws Exception {
        Tokenizer t = write(tokenizerJson(false, null, null));
        int ca = t.tokenId("ca").orElseThrow(), cat = t.tokenId("cat").orElseThrow();
        assertArrayEquals(new int[] {ca, 'c'}, t.encode("cac"), "the last symbol is the first half of a merge");
        assertArrayEquals(new int[] {ca, ca, cat}, t.encode("cacacat"), "every occurrence of the best pair merges");
        assertArrayEquals(new int[] {'c', cat}, t.encode("ccat"));
    }

    @Test
    void longerAddedTokensWinAndIdHolesDecodeToNothing() throws Exception {
        ObjectNode json = tokenizerJson(false, null, null);
        ArrayNode added = (ArrayNode) json.get("added_tokens");
        added.addObject().put("id", 310).put("content", "<|a|>").put("special", true);
        added.addObject().put("id", 311).put("content", "<|a|><|b|>").put("special", false);
        Tokenizer t = write(json);
        assertArrayEquals(new int[] {311, 'z', 310}, t.encode("<|a|><|b|>z<|a|>"), "the longest added token first");
        assertEquals(312, t.vocabSize());
        assertEquals(0, t.tokenBytes(305).length, "ids 302..309 are holes");
        assertEquals("z", t.decode(new int[] {305, 'z'}));
        assertTrue(t.isSpecial(310) && !t.isSpecial(311) && !t.isSpecial(305));
        assertTrue(!t.isSpecial(312) && !t.isSpecial(-1), "outside the vocabulary: not special, no exception");
        assertThrows(IllegalArgumentException.class, () -> t.tokenBytes(312));
        assertThrows(IllegalArgumentException.class, () -> t.tokenBytes(-1));

        // the largest id a vocabulary entry rather than an added token
        ObjectNode noAdded = tokenizerJson(false, null, null);
        noAdded.putArray("added_tokens");
        assertEquals(256 + MERGES.length, write(noAdded).vocabSize());
    }

    @Test
    void everyByteRoundTrips() throws Exception {
        Tokenizer t = write(tokenizerJson(false, null, null));
        for (int b = 0; b < 256; b++) assertArrayEquals(new byte[] {(byte) b}, t.tokenBytes(b), "byte symbol " + b);
        String text = "\u0000a\u007f\u00ff\u0100";
        assertEquals(text, t.decode(t.encode(text)));
    }

    @Test
    void ignoreMergesLooksUpWholePieces() throws Exception {
        ObjectNode json = tokenizerJson(false, null, null);
        ObjectNode model = (ObjectNode) json.get("model");
        ((ObjectNode) model.get("vocab")).put("Ġthecat", 299);
        assertArrayEquals(new int[] {258, 260}, write(json).encode(" thecat")); // merges alone: Ġthe + cat
        model.put("ignore_merges", true);
        assertArrayEquals(new int[] {299}, write(json).encode(" thecat"));
    }

    @Test
    void unsupportedTokenizersAreRejectedClearly() throws Exception {
        ObjectNode json = tokenizerJson(false, null, null);
        json.putObject("normalizer").put("type", "Lowercase");
        var e = assertThrows(IllegalArgumentException.class, () -> write(json));
        assertTrue(e.getMessage().contains("normalizer") && e.getMessage().contains("Lowercase"), e.getMessage());
        ObjectNode wordPiece = tokenizerJson(false, null, null);
        ((ObjectNode) wordPiece.get("model")).put("type", "WordPiece");
        e = assertThrows(IllegalArgumentException.class, () -> write(wordPiece));
        assertTrue(e.getMessage().contains("WordPiece"), e.getMessage());
        ObjectNode metaspace = tokenizerJson(false, null, null);
        metaspace.putObject("pre_tokenizer").put("type", "Metaspace");
        e = assertThrows(IllegalArgumentException.class, () -> write(metaspace));
        assertTrue(e.getMessage().contains("Metaspace"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(dir.resolve("nope.json")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void byteFallbackTokenizer() {
        ByteTokenizer t = new ByteTokenizer(List.of("<s>", "</s>"));
        assertEquals(258, t.vocabSize());
        assertArrayEquals(new int[] {256, 'h', 'i', 0xC3, 0xA9, 257}, t.encode("<s>hi\u00e9</s>"));
        assertEquals("<s>hi\u00e9</s>", t.decode(t.encode("<s>hi\u00e9</s>")));
        assertEquals("hi\u00e9", t.decode(t.encode("<s>hi\u00e9</s>"), true));
        Tokenizer.StreamDecoder s = t.streamDecoder();
        assertEquals("", s.push(0xC3));
        assertEquals("\u00e9", s.push(0xA9));
        assertEquals("", s.push(0xC3));
        assertEquals("\uFFFD", s.flush());
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {258}));
        assertThrows(IllegalArgumentException.class, () -> t.tokenBytes(258));
        assertTrue(t.isSpecial(257) && !t.isSpecial(258) && !t.isSpecial(255));
        assertEquals(257, t.tokenId("</s>").orElseThrow());
        assertEquals('h', t.tokenId("h").orElseThrow());
        assertTrue(t.tokenId("\u00e9").isEmpty() && t.tokenId("hi").isEmpty(), "only one-byte texts are byte tokens");
        ByteTokenizer nested = new ByteTokenizer(List.of("<s>", "<s>x"));
        assertArrayEquals(new int[] {257, 'y', 256}, nested.encode("<s>xy<s>"), "the longest special token first");
    }
}
