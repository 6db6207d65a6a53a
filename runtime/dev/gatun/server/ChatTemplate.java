package dev.gatun.server;

import java.util.List;

/**
 * The simple chat template of {@code /v1/chat/completions} (Gatun's tokenizers carry no Jinja chat
 * template): each message as {@code "<|role|>\n" + content + "\n"}, then {@code "<|assistant|>\n"}
 * for the reply. For example {@code [{system: "Be brief."}, {user: "Hi"}]} becomes
 * {@code "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n"}.
 */
public final class ChatTemplate {
    private ChatTemplate() {}

    /** A chat message: its role and text. */
    public record Message(String role, String content) {}

    /** The prompt text of {@code messages}, ending with the assistant's header. */
    public static String render(List<Message> messages) {
        StringBuilder s = new StringBuilder();
        for (Message m : messages) s.append("<|").append(m.role()).append("|>\n").append(m.content()).append('\n');
        return s.append("<|assistant|>\n").toString();
    }
}
