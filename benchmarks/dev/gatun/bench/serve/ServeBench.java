package dev.gatun.bench.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.io.TemporaryFolder;
import dev.gatun.llm.RandomLlama;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code ./gatun serve-bench}: the serving benchmark. Sends requests at Poisson arrival times to
 * the engine in this process or to a running server, and reports TTFT, TPOT, ITL and end-to-end
 * latency (mean, median, P99) and request and token throughput, as vLLM's
 * {@code benchmark_serving.py} defines and prints them (see {@link ServeMetrics}).
 */
public final class ServeBench {
    static final String USAGE = """
            usage: gatun serve-bench (--model DIR|tiny | --url http://HOST:PORT) [options]

            Sends --requests requests with random prompts of --input-len tokens, each asking for
            exactly --output-len tokens (EOS ignored), at Poisson arrival times of --rate requests/s,
            and prints vLLM's serving benchmark summary: request, output-token and total-token
            throughput over the benchmark's duration; TTFT (time to first token), TPOT (time per
            output token after the first, per request), ITL (every gap between streamed chunks) and
            E2EL (end-to-end latency): mean, median and P99 in ms. One untimed warm-up request runs
            first.

            target (one of):
              --model DIR      load this Hugging Face style Llama folder and run the engine in this
                               process (as gatun serve configures it); "tiny" writes a random-weight
                               test-size Llama to a temporary folder and uses that
              --url URL        drive a running OpenAI-compatible server (gatun serve) over HTTP:
                               streaming /v1/completions; prompts are random letters (one token each
                               for a byte-level vocabulary) and token counts are the server's usage
            options:
              --device NAME    with --model: cuda, emu or cpu (default: the best one)
              --rate R         requests per second, or inf to send all at once (default inf)
              --requests N     number of requests (default 64)
              --input-len N    prompt tokens per request (default 128)
              --output-len N   tokens generated per request (default 64)
              --seed S         seed of the arrival times and prompts (default 0)
              --json FILE      also write the metrics and every request's timings as JSON
              --plot DIR       also write PNG charts into DIR (created): latency distributions and
                               each request's latency by send time
              --debug          show stack traces on errors
            """;

    /** The parsed command line. {@code model} and {@code url}: exactly one is set. */
    record Options(String model, URI url, String device, double rate, int requests, int inputLen, int outputLen, long seed, Path json, Path plot) {
        static Options parse(List<String> args) {
            String model = null, device = null;
            URI url = null;
            double rate = Double.POSITIVE_INFINITY;
            int requests = 64, inputLen = 128, outputLen = 64;
            long seed = 0;
            Path json = null, plot = null;
            for (int i = 0; i < args.size(); i++) {
                String o = args.get(i);
                if (!o.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + o + "' (see gatun serve-bench --help)");
                if (i + 1 >= args.size()) throw new IllegalArgumentException(o + " needs a value (see gatun serve-bench --help)");
                String v = args.get(++i);
                switch (o) {
                    case "--model" -> model = v;
                    case "--url" -> url = url(v);
                    case "--device" -> device = v;
                    case "--rate" -> rate = rate(v);
                    case "--requests" -> requests = positive(o, v);
                    case "--input-len" -> inputLen = positive(o, v);
                    case "--output-len" -> outputLen = positive(o, v);
                    case "--seed" -> seed = seed(v);
                    case "--json" -> json = Path.of(v);
                    case "--plot" -> plot = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option " + o + " (see gatun serve-bench --help)");
                }
            }
            if ((model == null) == (url == null))
                throw new IllegalArgumentException("give exactly one target: --model DIR (or tiny) for the engine in this process, or --url for a running server");
            if (url != null && device != null) throw new IllegalArgumentException("--device applies to --model only; the server at --url chose its own device");
            if (model != null && !model.equals("tiny") && !Files.isDirectory(Path.of(model)))
                throw new IllegalArgumentException("model folder " + model + " does not exist or is not a folder");
            if (plot != null && Files.exists(plot) && !Files.isDirectory(plot)) throw new IllegalArgumentException("--plot " + plot + " is a file, not a folder");
            return new Options(model, url, device, rate, requests, inputLen, outputLen, seed, json, plot);
        }

        private static URI url(String v) {
            URI u;
            try {
                u = URI.create(v);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--url needs an address such as http://127.0.0.1:8000, got '" + v + "'");
            }
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null)
                throw new IllegalArgumentException("--url needs an address such as http://127.0.0.1:8000, got '" + v + "'");
            return u;
        }

        private static double rate(String v) {
            if (v.equalsIgnoreCase("inf")) return Double.POSITIVE_INFINITY;
            double r;
            try {
                r = Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--rate needs a number of requests per second or inf, got '" + v + "'");
            }
            if (!(r > 0)) throw new IllegalArgumentException("--rate must be > 0 requests per second (or inf), got " + v);
            return r;
        }

        private static int positive(String option, String v) {
            int n;
            try {
                n = Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + " needs a whole number, got '" + v + "'");
            }
            if (n < 1) throw new IllegalArgumentException(option + " must be >= 1, got " + n);
            return n;
        }

        private static long seed(String v) {
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--seed needs a whole number, got '" + v + "'");
            }
        }
    }

    /** One benchmark's outcome: the metrics and every request's record, in send order. */
    record Run(ServeMetrics metrics, List<RequestRecord> records, long startNanos, String target) {}

    private ServeBench() {}

    public static void main(String[] args) {
        List<String> rest = new ArrayList<>(List.of(args));
        boolean debug = rest.remove("--debug");
        if (rest.contains("--help") || rest.contains("-h")) {
            System.out.print(USAGE);
            return;
        }
        try {
            run(Options.parse(rest), System.out);
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
            System.err.println("gatun serve-bench: " + e.getMessage());
            if (debug) e.printStackTrace();
            System.exit(2);
        }
    }

    /** Runs the benchmark described by {@code o}, prints the summary (and the paths of what it wrote) to {@code out}. */
    static Run run(Options o, PrintStream out) {
        try (TemporaryFolder tiny = o.model() != null && o.model().equals("tiny") ? RandomLlama.writeTiny(o.seed()) : null;
             Target target = target(o, tiny == null ? null : tiny.path())) {
            out.println("serve-bench: " + target.description());
            out.printf(Locale.ROOT, "%d requests, %d prompt + %d output tokens each, rate %s requests/s (Poisson), seed %d%n", o.requests(),
                    o.inputLen(), o.outputLen(), Double.isInfinite(o.rate()) ? "inf" : o.rate(), o.seed());
            RequestRecord warm = target.send(o.seed() - 1, o.inputLen(), o.outputLen());
            if (!warm.completed()) throw new IllegalStateException("the warm-up request failed: " + warm.error());
            Run run = measure(target, o);
            out.print(run.metrics().table(o.rate()));
            if (run.metrics().failed() > 0)
                run.records().stream().filter(r -> !r.completed()).findFirst().ifPresent(r -> out.println("first failure: " + r.error()));
            if (o.json() != null) {
                writeJson(o, run);
                out.println("json: " + o.json());
            }
            if (o.plot() != null) {
                String title = "serve-bench " + (Double.isInfinite(o.rate()) ? "rate inf" : "rate " + o.rate() + "/s") + ", " + o.requests() + " requests";
                for (Path p : ServePlots.write(ServeMetrics.Samples.of(run.records(), run.startNanos()), title, run.target() + "; " + LocalDate.now(), o.plot()))
                    out.println("plot: " + p);
            }
            return run;
        }
    }

    private static Target target(Options o, Path tiny) {
        if (o.url() != null) return new HttpTarget(o.url());
        Device device = o.device() == null ? Devices.best() : Devices.get(o.device());
        Path dir = tiny != null ? tiny : Path.of(o.model());
        EngineTarget engine = new EngineTarget(dir, tiny != null ? "tiny (random weights)" : dir.getFileName().toString(), device,
                o.inputLen() + o.outputLen());
        if (o.inputLen() + o.outputLen() > engine.context()) {
            engine.close();
            throw new IllegalArgumentException("--input-len " + o.inputLen() + " + --output-len " + o.outputLen() + " exceeds the model's context of "
                    + engine.context() + " tokens");
        }
        return engine;
    }

    /** Sends every request at its arrival time from its own virtual thread and waits for all of them. */
    private static Run measure(Target target, Options o) {
        double[] at = Arrivals.seconds(o.requests(), o.rate(), o.seed());
        Random seeds = new Random(o.seed() + 1);
        RequestRecord[] records = new RequestRecord[o.requests()];
        Thread[] threads = new Thread[o.requests()];
        long start = System.nanoTime();
        for (int i = 0; i < threads.length; i++) {
            long due = start + (long) (at[i] * 1e9), promptSeed = seeds.nextLong();
            for (long wait; (wait = due - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
            int index = i;
            threads[i] = Thread.ofVirtual().name("serve-bench-request-" + i).start(() -> records[index] = target.send(promptSeed, o.inputLen(), o.outputLen()));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the requests", e);
            }
        }
        double duration = (System.nanoTime() - start) / 1e9;
        List<RequestRecord> list = List.of(records);
        return new Run(ServeMetrics.of(list, start, duration), list, start, target.description());
    }

    /** vLLM's result fields (durations in s, latencies in ms), plus every request's lengths, TTFT, ITLs (s) and error. */
    private static void writeJson(Options o, Run run) {
        ObjectMapper json = new ObjectMapper();
        ServeMetrics m = run.metrics();
        ObjectNode root = json.createObjectNode();
        root.put("date", LocalDate.now().toString()).put("target", run.target()).put("request_rate", Double.isInfinite(o.rate()) ? "inf" : Double.toString(o.rate()))
                .put("num_prompts", o.requests()).put("input_len", o.inputLen()).put("output_len", o.outputLen()).put("seed", o.seed())
                .put("duration", m.durationSeconds()).put("completed", m.completed()).put("failed", m.failed())
                .put("total_input_tokens", m.totalInputTokens()).put("total_output_tokens", m.totalOutputTokens())
                .put("request_throughput", m.requestThroughput()).put("output_throughput", m.outputThroughput())
                .put("total_token_throughput", m.totalTokenThroughput());
        stat(root, "ttft", m.ttft());
        stat(root, "tpot", m.tpot());
        stat(root, "itl", m.itl());
        stat(root, "e2el", m.e2el());
        ArrayNode inputs = root.putArray("input_lens"), outputs = root.putArray("output_lens"), ttfts = root.putArray("ttfts"),
                itls = root.putArray("itls"), errors = root.putArray("errors");
        for (RequestRecord r : run.records()) {
            inputs.add(r.promptTokens());
            outputs.add(r.outputTokens());
            if (r.completed()) ttfts.add((r.chunkNanos()[0] - r.sentNanos()) / 1e9);
            else ttfts.addNull();
            ArrayNode gaps = itls.addArray();
            for (int i = 1; i < r.chunkNanos().length; i++) gaps.add((r.chunkNanos()[i] - r.chunkNanos()[i - 1]) / 1e9);
            errors.add(r.error() == null ? "" : r.error());
        }
        try {
            Path parent = o.json().toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            json.writerWithDefaultPrettyPrinter().writeValue(o.json().toFile(), root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + o.json() + ": " + e.getMessage(), e);
        }
    }

    private static void stat(ObjectNode root, String name, ServeMetrics.Stat s) {
        root.put("mean_" + name + "_ms", s.meanMs()).put("median_" + name + "_ms", s.medianMs()).put("std_" + name + "_ms", s.stdMs())
                .put("p99_" + name + "_ms", s.p99Ms());
    }
}
