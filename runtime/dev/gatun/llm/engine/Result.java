package dev.gatun.llm.engine;

/**
 * What a request produced: its generated tokens (a stop token that ended it included), why it
 * finished, how many prompt tokens it had and how many of them the prefix cache supplied at its
 * first admission, how often it was preempted, and the failure when {@code reason} is ERROR.
 */
public record Result(int[] tokens, FinishReason reason, int promptTokens, int cachedPromptTokens, int preemptions, Throwable error) {
    public Result {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() { return tokens.clone(); }

    @Override
    public String toString() {
        return "Result[" + tokens.length + " tokens, " + reason + (error == null ? "" : ": " + error.getMessage()) + "]";
    }
}
