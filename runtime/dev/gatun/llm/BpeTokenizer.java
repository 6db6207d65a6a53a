package dev.gatun.llm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face {@code tokenizer.json} byte-level BPE tokenizer (GPT-2, Llama 3, Qwen, SmolLM).
 *
 * <p>Encoding: added tokens (special or not) are matched in the text first, longest first; the
 * rest is split by the pre-tokenizer's regex (a {@code Split} pattern such as Llama 3's, else the
 * GPT-2 one; Java regex with {@link Pattern#UNICODE_CHARACTER_CLASS} so that {@code \s} and
 * {@code \p{L}} are Unicode-aware as in the Rust implementation); each piece's UTF-8 bytes are
 * mapped through GPT-2's byte↔unicode table and merged by BPE rank (lowest rank first);
 * {@code ignore_merges} looks the whole piece up first. Decoding maps the characters back to
 * bytes. Supported: normalizer null or NFC; pre-tokenizer ByteLevel or a Sequence of Split and
 * ByteLevel; merges as {@code "a b"} strings or {@code [a, b]} pairs. Anything else (SentencePiece
 * style Metaspace, byte_fallback models, other normalizers) is rejected with a message.
 */
public final class BpeTokenizer implements Tokenizer {
    /** GPT-2's pre-tokenizer regex (the ByteLevel default). */
    public static final String GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    /** Llama 3's pre-tokenizer regex. */
    public static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final byte[][] idToBytes;
    private final boolean[] special;
    private final Map<String, Integer> ranks;
    private final Map<String, Integer> added;
    private final Pattern addedPattern;
    private final Pattern split;
    private final boolean addPrefixSpace, ignoreMerges, nfc;
    private final Integer unk;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private BpeTokenizer(Map<String, Integer> vocab, Map<String, Integer> ranks, Map<String, Integer> added, Map<String, Boolean> addedSpecial,
                         String splitRegex, boolean addPrefixSpace, boolean ignoreMerges, boolean nfc, String unkToken) {
        this.vocab = vocab;
        this.ranks = ranks;
        this.added = added;
        this.split = Pattern.compile(splitRegex, Pattern.UNICODE_CHARACTER_CLASS);
        this.addPrefixSpace = addPrefixSpace;
        this.ignoreMerges = ignoreMerges;
        this.nfc = nfc;
        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        for (int id : added.values()) size = Math.max(size, id + 1);
        idToToken = new String[size];
        idToBytes = new byte[size][];
        special = new boolean[size];
        vocab.forEach((token, id) -> {
            idToToken[id] = token;
            idToBytes[id] = toBytes(token);
        });
        added.forEach((token, id) -> {
            idToToken[id] = token;
            idToBytes[id] = token.getBytes(StandardCharsets.UTF_8);
            special[id] = addedSpecial.getOrDefault(token, false);
        });
        for (int id = 0; id < size; id++) if (idToBytes[id] == null) idToBytes[id] = new byte[0]; // holes in the id space
        List<String> byLength = new ArrayList<>(added.keySet());
        byLength.sort(Comparator.comparingInt(String::length).reversed());
        addedPattern = byLength.isEmpty() ? null
                : Pattern.compile(String.join("|", byLength.stream().map(Pattern::quote).toList()));
        unk = unkToken == null ? null : vocab.get(unkToken);
    }

    /** Reads a tokenizer.json. */
    public static BpeTokenizer load(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            if (e instanceof java.io.FileNotFoundException || e.getCause() instanceof NoSuchFileException || !java.nio.file.Files.exists(file))
                throw new IllegalArgumentException("tokenizer file " + file + " does not exist", e);
            throw new IllegalArgumentException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Builds the tokenizer from a parsed tokenizer.json. */
    public static BpeTokenizer fromJson(JsonNode root) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException("tokenizer.json: expected a JSON object");
        JsonNode model = root.path("model");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) throw new IllegalArgumentException("tokenizer.json: model type \"" + type + "\" is not supported (only byte-level BPE)");
        if (model.path("byte_fallback").asBoolean(false))
            throw new IllegalArgumentException("tokenizer.json: byte_fallback BPE (SentencePiece style, e.g. Llama 2) is not supported; only byte-level BPE");
        JsonNode vocabNode = model.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) throw new IllegalArgumentException("tokenizer.json: model.vocab is missing");
        Map<String, Integer> vocab = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0)
                throw new IllegalArgumentException("tokenizer.json: vocab entry " + e.getKey() + " has id " + e.getValue());
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        Map<String, Integer> ranks = new HashMap<>();
        JsonNode merges = model.path("merges");
        int rank = 0;
        for (JsonNode m : merges) {
            String a, b;
            if (m.isTextual()) {
                String s = m.asText();
                int space = s.indexOf(' ', 1);
                if (space < 0) throw new IllegalArgumentException("tokenizer.json: merge \"" + s + "\" is not \"a b\"");
                a = s.substring(0, space);
                b = s.substring(space + 1);
            } else if (m.isArray() && m.size() == 2) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else throw new IllegalArgumentException("tokenizer.json: merge " + m + " is neither \"a b\" nor [a, b]");
            ranks.putIfAbsent(a + ' ' + b, rank++);
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        Map<String, Boolean> addedSpecial = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            String content = t.path("content").asText(null);
            if (content == null || content.isEmpty() || !t.path("id").canConvertToInt())
                throw new IllegalArgumentException("tokenizer.json: added token " + t + " needs an id and non-empty content");
            added.put(content, t.get("id").asInt());
            addedSpecial.put(content, t.path("special").asBoolean(false));
        }
        JsonNode normalizer = root.get("normalizer");
        boolean nfc = false;
        if (normalizer != null && !normalizer.isNull()) {
            String n = normalizer.path("type").asText();
            if (n.equals("NFC")) nfc = true;
            else throw new IllegalArgumentException("tokenizer.json: normalizer \"" + n + "\" is not supported (null or NFC)");
        }
        String regex = null;
        boolean byteLevel = false, prefixSpace = false;
        JsonNode pre = root.path("pre_tokenizer");
        List<JsonNode> steps = new ArrayList<>();
        if (pre.path("type").asText().equals("Sequence")) pre.path("pretokenizers").forEach(steps::add);
        else if (!pre.isMissingNode() && !pre.isNull()) steps.add(pre);
        for (JsonNode step : steps) {
            switch (step.path("type").asText()) {
                case "ByteLevel" -> {
                    byteLevel = true;
                    prefixSpace = step.path("add_prefix_space").asBoolean(false);
                    if (step.path("use_regex").asBoolean(true)) {
                        if (regex != null) throw new IllegalArgumentException("tokenizer.json: two split regexes in the pre-tokenizer");
                        regex = GPT2_SPLIT;
                    }
                }
                case "Split" -> {
                    JsonNode pattern = step.path("pattern");
                    String behavior = step.path("behavior").asText("Isolated");
                    if (!behavior.equals("Isolated") || step.path("invert").asBoolean(false))
                        throw new IllegalArgumentException("tokenizer.json: Split behavior " + behavior + " (invert " + step.path("invert") + ") is not supported");
                    if (regex != null) throw new IllegalArgumentException("tokenizer.json: two split regexes in the pre-tokenizer");
                    if (pattern.has("Regex")) regex = pattern.get("Regex").asText();
                    else if (pattern.has("String")) regex = Pattern.quote(pattern.get("String").asText());
                    else throw new IllegalArgumentException("tokenizer.json: Split without a pattern");
                }
                default -> throw new IllegalArgumentException("tokenizer.json: pre-tokenizer \"" + step.path("type").asText() + "\" is not supported");
            }
        }
        if (!byteLevel) throw new IllegalArgumentException("tokenizer.json: no ByteLevel pre-tokenizer: only byte-level BPE is supported");
        String unkToken = model.path("unk_token").isTextual() ? model.get("unk_token").asText() : null;
        try {
            return new BpeTokenizer(vocab, ranks, added, addedSpecial, regex == null ? "(?s).+" : regex, prefixSpace,
                    model.path("ignore_merges").asBoolean(false), nfc, unkToken);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new IllegalArgumentException("tokenizer.json: the split regex does not compile in Java: " + e.getDescription(), e);
        }
    }

    // ---- encode ----

    @Override
    public int[] encode(String text) {
        if (nfc) text = Normalizer.normalize(text, Normalizer.Form.NFC);
        IntList out = new IntList();
        int start = 0;
        if (addedPattern != null) {
            Matcher m = addedPattern.matcher(text);
            while (m.find()) {
                encodeOrdinary(text.substring(start, m.start()), out);
                out.add(added.get(m.group()));
                start = m.end();
            }
        }
        encodeOrdinary(text.substring(start), out);
        return out.toArray();
    }

    private void encodeOrdinary(String text, IntList out) {
        if (text.isEmpty()) return;
        if (addPrefixSpace && !text.startsWith(" ")) text = " " + text;
        Matcher m = split.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) encodePiece(text.substring(last, m.start()), out);
            if (m.end() > m.start()) encodePiece(m.group(), out);
            last = m.end();
        }
        if (last < text.length()) encodePiece(text.substring(last), out);
    }

    private void encodePiece(String piece, IntList out) {
        int[] ids = cache.get(piece);
        if (ids == null) {
            ids = bpe(piece);
            if (cache.size() < 100_000) cache.put(piece, ids);
        }
        for (int id : ids) out.add(id);
    }

    /** BPE over the byte-mapped characters of one piece: merge the lowest-ranked adjacent pair until none applies. */
    private int[] bpe(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        StringBuilder mapped = new StringBuilder(bytes.length);
        for (byte b : bytes) mapped.append(BYTE_TO_CHAR[b & 0xff]);
        String whole = mapped.toString();
        if (ignoreMerges && vocab.containsKey(whole)) return new int[] {vocab.get(whole)};
        List<String> symbols = new ArrayList<>(whole.length());
        for (int i = 0; i < whole.length(); i++) symbols.add(String.valueOf(whole.charAt(i)));
        while (symbols.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer r = ranks.get(symbols.get(i) + ' ' + symbols.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) break;
            String a = symbols.get(best), b = symbols.get(best + 1);
            List<String> next = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(a) && symbols.get(i + 1).equals(b)) {
                    next.add(a + b);
                    i++;
                } else next.add(symbols.get(i));
            }
            symbols = next;
        }
        int[] ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = vocab.get(symbols.get(i));
            if (id == null) {
                if (unk == null)
                    throw new IllegalStateException("tokenizer: no vocabulary entry for \"" + symbols.get(i) + "\" (from \"" + piece
                            + "\") and no unk_token: the vocabulary lacks some of the 256 byte symbols");
                id = unk;
            }
            ids[i] = id;
        }
        return ids;
    }

    // ---- decode and lookups ----

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return idToBytes[id].clone();
    }

    @Override public int vocabSize() { return idToToken.length; }

    @Override public boolean isSpecial(int id) { return id >= 0 && id < special.length && special[id]; }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = added.get(token);
        if (id == null) id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The vocabulary string of {@code id} (byte-mapped characters, or an added token's content). */
    public String tokenString(int id) {
        checkId(id);
        return idToToken[id];
    }

    /** GPT-2's byte → printable character map. */
    public static char byteToChar(int b) { return BYTE_TO_CHAR[b & 0xff]; }

    private static byte[] toBytes(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
            if (b < 0) return token.getBytes(StandardCharsets.UTF_8); // not a byte-level symbol: take the text as is
            out[i] = (byte) b;
        }
        return out;
    }

    private static final class IntList {
        int[] a = new int[16];
        int n;

        void add(int v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int[] toArray() { return java.util.Arrays.copyOf(a, n); }
    }
}
