/**
 * An OpenAI-compatible HTTP server over the LLM engine: {@link dev.gatun.server.OpenAiServer}
 * serves {@code /v1/models}, {@code /v1/completions} and {@code /v1/chat/completions} (with
 * {@code stream: true} as Server-Sent Events), {@code /health} and {@code /metrics} (Prometheus
 * text format) on the JDK's own {@code com.sun.net.httpserver} with one virtual thread per
 * exchange. The engine ({@link dev.gatun.llm.engine}) does not depend on this package.
 */
package dev.gatun.server;
