package dev.gatun.llm.engine;

/** Why a request stopped generating. */
public enum FinishReason {
    /** It produced one of its stop tokens (the stop token is the last of its tokens). */
    STOP,
    /** It produced {@code maxNewTokens} tokens. */
    LENGTH,
    /** The caller cancelled it ({@link RequestHandle#cancel()}). */
    CANCELLED,
    /** Its deadline passed before it finished. */
    DEADLINE,
    /** The engine was closed before it finished. */
    SHUTDOWN,
    /** The step it was part of failed; {@link Result#error()} says why. */
    ERROR
}
