package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * PyTorch on the CPU, measured in the same run on the same shape and thread count: its
 * scaled_dot_product_attention is the peer for prefill, decode and video attention,
 * nn.functional.linear for the GEMM. Video attention takes [1, T, S, H, D] latents to the output
 * in the same layout, as a model would: the peer's time includes its reshapes and transposes into
 * SDPA's [batch, heads, tokens, dim] and back (the copies diffusers' attention processors make).
 * Optional: without python3 and torch ({@code pip install torch==2.13.0+cpu}) the rows say no peer ran.
 */
final class TorchPeer {
    private static final String SCRIPT = """
            import sys, time, torch
            op, threads, reps, floor = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
            torch.set_num_threads(threads)
            sdpa = torch.nn.functional.scaled_dot_product_attention
            if op == "linear":
                m, n, k = map(int, sys.argv[5:8])
                x, w = torch.randn(m, k), torch.randn(n, k)
                run = lambda: torch.nn.functional.linear(x, w)
            elif op == "prefill":
                h, s, d, causal = map(int, sys.argv[5:9])
                q, k, v = (torch.randn(1, h, s, d) for _ in range(3))
                run = lambda: sdpa(q, k, v, is_causal=bool(causal))
            elif op == "video":
                mode, t, s, h, d = map(int, sys.argv[5:10])  # mode 0 full 3D, 1 spatial, 2 temporal
                q, k, v = (torch.randn(1, t, s, h, d) for _ in range(3))
                if mode == 0:
                    to = lambda x: x.reshape(1, t * s, h, d).transpose(1, 2)
                    back = lambda o: o.transpose(1, 2).reshape(1, t, s, h, d)
                elif mode == 1:
                    to = lambda x: x.reshape(t, s, h, d).transpose(1, 2)
                    back = lambda o: o.transpose(1, 2).reshape(1, t, s, h, d)
                else:
                    to = lambda x: x.reshape(t, s, h, d).permute(1, 2, 0, 3)
                    back = lambda o: o.permute(2, 0, 1, 3).reshape(1, t, s, h, d)
                run = lambda: back(sdpa(to(q), to(k), to(v)))
            else:
                b, ctx, hq, hkv, d, bf16 = map(int, sys.argv[5:11])
                dt = torch.bfloat16 if bf16 else torch.float32
                q = torch.randn(b, hq, 1, d, dtype=dt)
                k, v = (torch.randn(b, hkv, ctx, d, dtype=dt) for _ in range(2))
                run = lambda: sdpa(q, k, v, enable_gqa=True)
            run()
            times = []
            total = 0.0
            while len(times) < reps or (total < floor and len(times) < 20000):
                t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0); total += times[-1]
            times.sort()
            print("torch=%s seconds=%.9f" % (torch.__version__, times[len(times) // 2]))
            """;

    private TorchPeer() {}

    /**
     * The peer's median seconds for {@code op} with {@code args} at the thread count of the cpu
     * {@code device}; empty on other devices (it is a CPU peer) or when torch did not run, which
     * it says on stderr (once when python3 or torch is missing, with the error for any other failure).
     */
    static Optional<Double> seconds(Device device, String op, int repetitions, int... args) {
        if (!(device instanceof CpuDevice cpu) || missing != null) return Optional.empty();
        List<String> command = new ArrayList<>(List.of("python3", "-c", SCRIPT, op, Integer.toString(cpu.library().threads()), Integer.toString(repetitions),
                Double.toString(Timing.MIN_SECONDS)));
        for (int a : args) command.add(Integer.toString(a));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes()).strip();
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return failed(op, "no result in 10 minutes");
            }
            int at = output.lastIndexOf("seconds=");
            if (process.exitValue() == 0 && at >= 0) return Optional.of(Double.parseDouble(output.substring(at + 8).trim()));
            if (output.contains("No module named 'torch'")) return missing("torch is not installed (pip install torch==2.13.0+cpu)");
            return failed(op, output.substring(output.lastIndexOf('\n') + 1));
        } catch (IOException e) {
            return missing("python3 did not start: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static volatile String missing;

    private static Optional<Double> missing(String why) {
        missing = why;
        System.err.println("no torch peer in this run: " + why);
        return Optional.empty();
    }

    private static Optional<Double> failed(String op, String why) {
        System.err.println("torch peer for " + op + " failed: " + why);
        return Optional.empty();
    }
}
