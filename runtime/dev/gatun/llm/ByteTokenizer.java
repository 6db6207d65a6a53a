package dev.gatun.llm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The byte-level fallback tokenizer for test models: ids 0..255 are the bytes of the UTF-8 text,
 * ids 256.. are the special tokens in the order given (e.g. {@code <s>}, {@code </s>}), matched
 * in the text before anything else (longest first).
 */
public final class ByteTokenizer implements Tokenizer {
    private final List<String> specials;
    private final Map<String, Integer> specialIds = new LinkedHashMap<>();
    private final List<String> byLength;

    public ByteTokenizer(List<String> specials) {
        this.specials = List.copyOf(specials);
        for (int i = 0; i < this.specials.size(); i++) {
            String s = this.specials.get(i);
            if (s.isEmpty()) throw new IllegalArgumentException("special tokens must not be empty");
            if (specialIds.putIfAbsent(s, 256 + i) != null) throw new IllegalArgumentException("special token " + s + " is listed twice");
        }
        byLength = new ArrayList<>(this.specials);
        byLength.sort(Comparator.comparingInt(String::length).reversed());
    }

    @Override
    public int[] encode(String text) {
        List<Integer> ids = new ArrayList<>();
        int start = 0, i = 0;
        outer:
        while (i < text.length()) {
            for (String s : byLength)
                if (text.startsWith(s, i)) {
                    for (byte b : text.substring(start, i).getBytes(StandardCharsets.UTF_8)) ids.add(b & 0xff);
                    ids.add(specialIds.get(s));
                    i += s.length();
                    start = i;
                    continue outer;
                }
            i++;
        }
        for (byte b : text.substring(start).getBytes(StandardCharsets.UTF_8)) ids.add(b & 0xff);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return id < 256 ? new byte[] {(byte) id} : specials.get(id - 256).getBytes(StandardCharsets.UTF_8);
    }

    @Override public int vocabSize() { return 256 + specials.size(); }

    @Override public boolean isSpecial(int id) { return id >= 256 && id < vocabSize(); }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = specialIds.get(token);
        if (id != null) return OptionalInt.of(id);
        byte[] b = token.getBytes(StandardCharsets.UTF_8);
        return b.length == 1 ? OptionalInt.of(b[0] & 0xff) : OptionalInt.empty();
    }
}
