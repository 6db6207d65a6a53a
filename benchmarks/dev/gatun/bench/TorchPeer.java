package dev.gatun.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * PyTorch on the CPU, measured in the same run on the same shape and thread count: its
 * scaled_dot_product_attention is the peer for prefill and decode, nn.functional.linear for the GEMM. Optional: without python3 and torch
 * ({@code pip install torch==2.13.0+cpu}) the rows say no peer ran.
 */
final class TorchPeer {
    private static final String SCRIPT = """
            import sys, time, torch
            op, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            torch.set_num_threads(threads)
            sdpa = torch.nn.functional.scaled_dot_product_attention
            if op == "linear":
                m, n, k = map(int, sys.argv[4:7])
                x, w = torch.randn(m, k), torch.randn(n, k)
                run = lambda: torch.nn.functional.linear(x, w)
            elif op == "prefill":
                h, s, d, causal = map(int, sys.argv[4:8])
                q, k, v = (torch.randn(1, h, s, d) for _ in range(3))
                run = lambda: sdpa(q, k, v, is_causal=bool(causal))
            else:
                b, ctx, hq, hkv, d = map(int, sys.argv[4:9])
                q = torch.randn(b, hq, 1, d)
                k, v = (torch.randn(b, hkv, ctx, d) for _ in range(2))
                run = lambda: sdpa(q, k, v, enable_gqa=True)
            run()
            times = []
            for _ in range(reps):
                t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
            times.sort()
            print("torch=%s seconds=%.9f" % (torch.__version__, times[len(times) // 2]))
            """;

    private TorchPeer() {}

    /** The peer's median seconds for {@code op} with {@code args}, or empty when torch is not installed. */
    static Optional<Double> seconds(String op, int threads, int repetitions, int... args) {
        List<String> command = new ArrayList<>(List.of("python3", "-c", SCRIPT, op, Integer.toString(threads), Integer.toString(repetitions)));
        for (int a : args) command.add(Integer.toString(a));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) return Optional.empty();
            int at = output.lastIndexOf("seconds=");
            return at < 0 ? Optional.empty() : Optional.of(Double.parseDouble(output.substring(at + 8).trim()));
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
