package dev.gatun.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.gatun.llm.StreamingText;
import dev.gatun.llm.Tokenizer;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.Request;
import dev.gatun.llm.engine.RequestHandle;
import dev.gatun.llm.engine.Result;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An OpenAI-compatible HTTP server for one model served by an {@link Engine}, on the JDK's own
 * {@link HttpServer} with one virtual thread per exchange.
 *
 * <h2>Endpoints</h2>
 * <ul>
 *   <li>{@code GET /health}: {@code {"status":"ok"}} (no API key needed);</li>
 *   <li>{@code GET /v1/models}, {@code GET /v1/models/{name}}: the one model, in OpenAI's list /
 *       model shape;</li>
 *   <li>{@code GET /metrics}: {@link Engine#metrics()} in the Prometheus text format;</li>
 *   <li>{@code POST /v1/completions}: {@code prompt} (a string, or a list of one string);</li>
 *   <li>{@code POST /v1/chat/completions}: {@code messages} ({@code [{role, content}]}; content a
 *       string or a list of {@code {"type":"text","text":...}} parts; required except on
 *       assistant turns), rendered with
 *       {@link ChatTemplate the simple chat template}.</li>
 * </ul>
 * Both generation endpoints take {@code model} (optional; when given it must be this server's
 * model), {@code max_tokens} (chat also {@code max_completion_tokens}; default 16 for
 * completions, the rest of the context for chat, both capped by {@link Options#maxTokens}),
 * {@code temperature} (default 1; 0 = greedy), {@code top_p}, {@code top_k} (an extension; 0 or -1
 * = off), {@code seed} (default: random), {@code stop} (a string or a list of strings, applied to
 * the decoded text: the output ends before the first one and generation is cancelled),
 * {@code n} (only 1), {@code stream}, {@code stream_options.include_usage} and {@code ignore_eos}
 * (vLLM's extension: generate to max_tokens through EOS, for benchmarks). Other fields are
 * ignored. The prompt is encoded as is (no BOS token is added, as in {@code gatun generate});
 * generation also ends after one of {@link Options#eosTokens} (the model's EOS ids). Special
 * tokens are left out of the returned text.
 *
 * <p>Non-streaming answers have OpenAI's shape ({@code id, object, created, model, choices[{index,
 * text | message, finish_reason}], usage}); with {@code stream: true} the answer is Server-Sent
 * Events, one {@code data: {chunk}} per text delta (flushed), a last chunk carrying the
 * {@code finish_reason} ({@code "stop"} or {@code "length"}), and {@code data: [DONE]}. A streaming
 * client that goes away (a write fails) has its request cancelled, which frees its KV blocks.
 *
 * <p>Every refusal is a 4xx (or 5xx) with OpenAI's error object
 * {@code {"error": {"message", "type", "param", "code"}}}: malformed JSON, wrong types, missing
 * fields, unknown model (404), bad parameters, a body over {@link Options#maxBodyBytes} (413), a
 * prompt over {@link Options#maxPromptTokens}, {@code max_tokens} over {@link Options#maxTokens},
 * or what the engine rejects at submission (context overflow, a request that can never fit in
 * the KV cache); a missing or wrong API key is a 401. The server keeps serving after each. What
 * is left of a refused request's body is read and dropped first (up to {@link #DRAIN_BYTES}), so
 * that a client still sending it receives the answer rather than a reset connection.
 *
 * <p>The server does not own the engine: {@link #close()} stops listening and cancels the requests
 * in flight; the caller closes the engine afterwards.
 */
public final class OpenAiServer implements AutoCloseable {

    /**
     * @param host            address to bind (default 127.0.0.1: loopback only)
     * @param port            TCP port; 0 = an ephemeral one (see {@link #port()})
     * @param apiKey          when not null, every endpoint but /health wants {@code Authorization: Bearer <apiKey>}
     * @param maxBodyBytes    largest request body accepted (413 beyond)
     * @param maxPromptTokens longest prompt accepted, in tokens (400 beyond)
     * @param maxTokens       largest {@code max_tokens} accepted (400 beyond)
     * @param eosTokens       token ids that end generation (the model's EOS ids)
     */
    public record Options(String host, int port, String apiKey, long maxBodyBytes, int maxPromptTokens, int maxTokens, int[] eosTokens) {
        public Options {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) throw new IllegalArgumentException("server: the port must be in [0, 65535], got " + port);
            if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("server: the API key must not be blank");
            if (maxBodyBytes < 1) throw new IllegalArgumentException("server: maxBodyBytes must be >= 1, got " + maxBodyBytes);
            if (maxPromptTokens < 1) throw new IllegalArgumentException("server: maxPromptTokens must be >= 1, got " + maxPromptTokens);
            if (maxTokens < 1) throw new IllegalArgumentException("server: maxTokens must be >= 1, got " + maxTokens);
            eosTokens = eosTokens == null ? new int[0] : eosTokens.clone();
        }

        /** 127.0.0.1:8000, no API key, 1 MiB bodies, prompts and max_tokens limited only by the model's context, no EOS ids. */
        public static Options defaults() {
            return new Options("127.0.0.1", 8000, null, 1 << 20, Integer.MAX_VALUE, Integer.MAX_VALUE, new int[0]);
        }

        public Options withHost(String h) { return new Options(h, port, apiKey, maxBodyBytes, maxPromptTokens, maxTokens, eosTokens); }

        public Options withPort(int p) { return new Options(host, p, apiKey, maxBodyBytes, maxPromptTokens, maxTokens, eosTokens); }

        public Options withApiKey(String k) { return new Options(host, port, k, maxBodyBytes, maxPromptTokens, maxTokens, eosTokens); }

        public Options withMaxBodyBytes(long n) { return new Options(host, port, apiKey, n, maxPromptTokens, maxTokens, eosTokens); }

        public Options withMaxPromptTokens(int n) { return new Options(host, port, apiKey, maxBodyBytes, n, maxTokens, eosTokens); }

        public Options withMaxTokens(int n) { return new Options(host, port, apiKey, maxBodyBytes, maxPromptTokens, n, eosTokens); }

        public Options withEosTokens(int... ids) { return new Options(host, port, apiKey, maxBodyBytes, maxPromptTokens, maxTokens, ids); }

        @Override public int[] eosTokens() { return eosTokens.clone(); }
    }

    /**
     * How much of a refused request's unread body is read and dropped before the error is sent.
     * The JDK server closes a connection whose request body was not read to the end, and a client
     * still sending it then gets a reset instead of the answer; beyond this it does.
     */
    static final long DRAIN_BYTES = 64L << 20;

    private final Engine engine;
    private final Tokenizer tokenizer;
    private final String modelName;
    private final Options options;
    private final long createdAt = Instant.now().getEpochSecond();
    private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private final byte[] apiKeyBytes;
    private final ExecutorService executor;
    private final HttpServer http;
    private final Set<RequestHandle> active = ConcurrentHashMap.newKeySet();
    private final AtomicLong httpRequests = new AtomicLong(), disconnects = new AtomicLong();
    private volatile boolean closed;

    private OpenAiServer(Engine engine, Tokenizer tokenizer, String modelName, Options options) {
        this.engine = Objects.requireNonNull(engine, "engine");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        this.options = Objects.requireNonNull(options, "options");
        this.apiKeyBytes = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("gatun-http-", 0).factory());
        try {
            this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
        } catch (IOException e) {
            executor.shutdownNow();
            throw new IllegalStateException("server: cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        }
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    /** Starts serving {@code engine}'s model as {@code modelName}; returns once the socket is bound. */
    public static OpenAiServer start(Engine engine, Tokenizer tokenizer, String modelName, Options options) {
        return new OpenAiServer(engine, tokenizer, modelName, options);
    }

    /** The bound address (the actual port when {@link Options#port} was 0). */
    public InetSocketAddress address() { return http.getAddress(); }

    public int port() { return http.getAddress().getPort(); }

    /** {@code http://host:port}, without a trailing slash (the OpenAI base URL is this + {@code /v1}). */
    public URI baseUri() {
        String host = http.getAddress().getAddress().getHostAddress();
        if (host.contains(":")) host = "[" + host + "]";
        return URI.create("http://" + host + ":" + port());
    }

    public String modelName() { return modelName; }

    /** Streaming clients that went away mid-stream (their requests were cancelled). */
    public long clientDisconnects() { return disconnects.get(); }

    /** Generation requests in flight (submitted to the engine and not yet answered). */
    public int activeRequests() { return active.size(); }

    /** Stops listening, cancels the requests in flight and waits (briefly) for their exchanges to end. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (RequestHandle h : active) h.cancel();
        http.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- routing ----

    private void handle(HttpExchange ex) {
        httpRequests.incrementAndGet();
        try {
            String path = ex.getRequestURI().getPath();
            if (!path.equals("/health")) authorize(ex);
            switch (path) {
                case "/health" -> {
                    method(ex, "GET");
                    sendJson(ex, 200, json.createObjectNode().put("status", "ok"));
                }
                case "/v1/models" -> {
                    method(ex, "GET");
                    ObjectNode list = json.createObjectNode().put("object", "list");
                    list.putArray("data").add(modelObject());
                    sendJson(ex, 200, list);
                }
                case "/metrics" -> {
                    method(ex, "GET");
                    byte[] text = PrometheusText.render(engine.metrics(), httpRequests.get(), disconnects.get()).getBytes(StandardCharsets.UTF_8);
                    ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                    ex.sendResponseHeaders(200, text.length);
                    try (OutputStream out = ex.getResponseBody()) {
                        out.write(text);
                    }
                }
                case "/v1/completions" -> {
                    method(ex, "POST");
                    generate(ex, false);
                }
                case "/v1/chat/completions" -> {
                    method(ex, "POST");
                    generate(ex, true);
                }
                default -> {
                    if (path.startsWith("/v1/models/")) {
                        method(ex, "GET");
                        String name = path.substring("/v1/models/".length());
                        if (!name.equals(modelName))
                            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "the model '" + name + "' does not exist; this server serves '" + modelName + "'");
                        sendJson(ex, 200, modelObject());
                    } else throw new ApiException(404, "invalid_request_error", null, "not_found", "no such endpoint: " + ex.getRequestMethod() + " " + path);
                }
            }
        } catch (ApiException e) {
            sendErrorIfPossible(ex, e);
        } catch (IOException e) {
            // the client went away; nothing to answer
        } catch (RuntimeException e) {
            sendErrorIfPossible(ex, new ApiException(500, "server_error", null, null, "internal error: " + e));
        } finally {
            ex.close();
        }
    }

    private ObjectNode modelObject() {
        return json.createObjectNode().put("id", modelName).put("object", "model").put("created", createdAt).put("owned_by", "gatun");
    }

    private void authorize(HttpExchange ex) {
        if (apiKeyBytes == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        byte[] given = h != null && h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim().getBytes(StandardCharsets.UTF_8) : null;
        if (given == null || !MessageDigest.isEqual(given, apiKeyBytes)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key",
                    given == null ? "missing API key: send the header 'Authorization: Bearer <key>'" : "incorrect API key");
        }
    }

    private static void method(HttpExchange ex, String method) {
        if (!ex.getRequestMethod().equals(method)) {
            ex.getResponseHeaders().set("Allow", method);
            throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                    ex.getRequestURI().getPath() + " takes " + method + ", not " + ex.getRequestMethod());
        }
    }

    // ---- generation ----

    /** What a generation produced: its final text, the tokens it took, and OpenAI's finish reason. */
    private record Outcome(String text, int completionTokens, String finishReason) {}

    @FunctionalInterface
    private interface TextSink {
        void accept(String delta) throws IOException;
    }

    private void generate(HttpExchange ex, boolean chat) throws IOException {
        JsonNode body = readJson(ex);
        GenerationRequest p = GenerationRequest.parse(body, chat, tokenizer, modelName, engine.modelConfig().maxPositionEmbeddings(), options);
        RequestHandle handle = submit(p.request());
        active.add(handle);
        try {
            if (closed) handle.cancel();
            if (p.stream()) stream(ex, p, handle);
            else {
                Outcome o = drive(handle, p, d -> {});
                sendJson(ex, 200, completion(p, o));
            }
        } finally {
            if (!handle.isDone()) handle.cancel();
            active.remove(handle);
        }
    }

    private RequestHandle submit(Request r) {
        try {
            return engine.submit(r);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            throw ApiException.invalid(null, m.contains("context") || m.contains("can never fit") ? "context_length_exceeded" : null, m);
        } catch (IllegalStateException e) {
            throw new ApiException(503, "server_error", null, "unavailable", "the engine is not accepting requests: " + e.getMessage());
        }
    }

    /** Feeds the request's tokens through the text assembler into {@code sink} until the end or a stop string. */
    private Outcome drive(RequestHandle handle, GenerationRequest p, TextSink sink) throws IOException {
        StreamingText text = new StreamingText(tokenizer, p.stops());
        int consumed = 0;
        for (int token : handle) {
            consumed++;
            String d = text.push(token);
            if (!d.isEmpty()) sink.accept(d);
            if (text.stopped()) break;
        }
        if (text.stopped()) handle.cancel();
        else {
            String d = text.finish();
            if (!d.isEmpty()) sink.accept(d);
        }
        Result r = handle.await();
        if (text.stopped()) return new Outcome(text.text(), consumed, "stop");
        return new Outcome(text.text(), consumed, switch (r.reason()) {
            case STOP -> "stop";
            case LENGTH, DEADLINE -> "length";
            case CANCELLED, SHUTDOWN -> throw new ApiException(503, "server_error", null, "unavailable", "the request was cancelled: the server is shutting down");
            case ERROR -> throw new ApiException(500, "server_error", null, null,
                    "generation failed: " + (r.error() == null ? "unknown error" : r.error().getMessage()));
        });
    }

    private void stream(HttpExchange ex, GenerationRequest p, RequestHandle handle) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        OutputStream out;
        try {
            ex.sendResponseHeaders(200, 0);
            out = ex.getResponseBody();
            if (p.chat()) {
                ObjectNode first = chunk(p, null);
                ((ObjectNode) first.withArray("choices").get(0)).putObject("delta").put("role", "assistant").put("content", "");
                event(out, first);
            }
        } catch (IOException e) {
            clientGone(handle);
            throw e;
        }
        Outcome o;
        try {
            o = drive(handle, p, d -> {
                ObjectNode c = chunk(p, null);
                ObjectNode choice = (ObjectNode) c.withArray("choices").get(0);
                if (p.chat()) choice.putObject("delta").put("content", d);
                else choice.put("text", d);
                event(out, c);
            });
        } catch (IOException e) {
            clientGone(handle);
            throw e;
        } catch (ApiException e) {
            // the headers are sent: the error goes in the stream, as OpenAI's does
            try {
                event(out, errorBody(e));
                done(out);
            } catch (IOException gone) {
                clientGone(handle);
            }
            return;
        }
        try {
            ObjectNode last = chunk(p, o.finishReason());
            ObjectNode choice = (ObjectNode) last.withArray("choices").get(0);
            if (p.chat()) choice.putObject("delta");
            else choice.put("text", "");
            event(out, last);
            if (p.includeUsage()) {
                ObjectNode u = chunk(p, null);
                u.putArray("choices");
                u.set("usage", usage(p, o));
                event(out, u);
            }
            done(out);
        } catch (IOException e) {
            disconnects.incrementAndGet(); // the request is already finished
            throw e;
        }
    }

    private void clientGone(RequestHandle handle) {
        disconnects.incrementAndGet(); // counted before the cancel frees the request, so metrics never show it freed but not counted
        handle.cancel();
    }

    private void event(OutputStream out, JsonNode data) throws IOException {
        out.write("data: ".getBytes(StandardCharsets.US_ASCII));
        out.write(json.writeValueAsBytes(data));
        out.write("\n\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void done(OutputStream out) throws IOException {
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    /** A chunk with one choice whose finish_reason is {@code finish} (JSON null when null). */
    private ObjectNode chunk(GenerationRequest p, String finish) {
        ObjectNode c = json.createObjectNode();
        c.put("id", p.id()).put("object", p.chat() ? "chat.completion.chunk" : "text_completion").put("created", p.created()).put("model", modelName);
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        choice.putNull("logprobs");
        if (finish == null) choice.putNull("finish_reason");
        else choice.put("finish_reason", finish);
        return c;
    }

    private ObjectNode completion(GenerationRequest p, Outcome o) {
        ObjectNode c = json.createObjectNode();
        c.put("id", p.id()).put("object", p.chat() ? "chat.completion" : "text_completion").put("created", p.created()).put("model", modelName);
        ObjectNode choice = c.putArray("choices").addObject().put("index", 0);
        if (p.chat()) choice.putObject("message").put("role", "assistant").put("content", o.text());
        else choice.put("text", o.text());
        choice.putNull("logprobs");
        choice.put("finish_reason", o.finishReason());
        c.set("usage", usage(p, o));
        return c;
    }

    private ObjectNode usage(GenerationRequest p, Outcome o) {
        int prompt = p.request().prompt().length;
        return json.createObjectNode().put("prompt_tokens", prompt).put("completion_tokens", o.completionTokens())
                .put("total_tokens", prompt + o.completionTokens());
    }

    // ---- request bodies ----

    private JsonNode readJson(HttpExchange ex) throws IOException {
        long limit = options.maxBodyBytes();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(null, "bad Content-Length header: " + length);
            }
            if (n > limit) throw tooLarge(limit);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        InputStream in = ex.getRequestBody(); // not closed here: a refusal drains it first (sendErrorIfPossible)
        byte[] buf = new byte[8192];
        int r;
        while ((r = in.read(buf)) > 0) {
            if (bytes.size() + r > limit) throw tooLarge(limit);
            bytes.write(buf, 0, r);
        }
        if (bytes.size() == 0) throw ApiException.invalid(null, "the request body is empty; send a JSON object");
        JsonNode body;
        try {
            body = json.readTree(bytes.toByteArray());
        } catch (JacksonException e) {
            throw ApiException.invalid(null, "invalid_json", "the request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (body == null || !body.isObject()) throw ApiException.invalid(null, "the request body must be a JSON object");
        return body;
    }

    private static ApiException tooLarge(long limit) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large", "the request body is larger than this server's limit of " + limit + " bytes");
    }

    // ---- responses ----

    /** Reads and drops up to {@link #DRAIN_BYTES} of what is left of a request body. */
    private static void drain(InputStream in) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long left = DRAIN_BYTES;
        for (int r; left > 0 && (r = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; ) left -= r;
    }

    private void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = json.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private ObjectNode errorBody(ApiException e) {
        ObjectNode root = json.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("message", e.getMessage()).put("type", e.type);
        if (e.param == null) err.putNull("param");
        else err.put("param", e.param);
        if (e.code == null) err.putNull("code");
        else err.put("code", e.code);
        return root;
    }

    private void sendErrorIfPossible(HttpExchange ex, ApiException e) {
        if (ex.getResponseCode() != -1) return; // headers already sent
        try {
            drain(ex.getRequestBody());
            sendJson(ex, e.status, errorBody(e));
        } catch (IOException ignored) {
            // the client went away
        }
    }
}
