package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.tensor.DType;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * PyTorch on the op's device (the CPU, at the same thread count, or the GPU), measured in the same
 * run on the same shape: its
 * scaled_dot_product_attention is the peer for prefill, decode and video attention,
 * nn.functional.linear for the GEMM. Video attention takes [1, T, S, H, D] latents to the output
 * in the same layout, as a model would: the peer's time includes its reshapes and transposes into
 * SDPA's [batch, heads, tokens, dim] and back (the copies diffusers' attention processors make).
 * One python process per row, started before the row is timed: it runs the call once per line it
 * reads, so that its runs alternate with the op's (see {@link Timing}). Optional: without python3
 * and torch ({@code pip install torch==2.13.0+cpu}) the rows say no peer ran.
 */
final class TorchPeer implements Timing.Probe, AutoCloseable {
    private static final String SCRIPT = """
            import os, sys, threading, time, torch
            op, threads, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
            args = list(map(int, sys.argv[4:]))
            torch.set_num_threads(threads)
            torch.set_default_device(dev)
            sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
            sdpa = torch.nn.functional.scaled_dot_product_attention
            if op == "linear":
                m, n, k, bf16 = args[:4]
                dt = torch.bfloat16 if bf16 else torch.float32
                x, w = torch.randn(m, k, dtype=dt), torch.randn(n, k, dtype=dt)
                run = lambda: torch.nn.functional.linear(x, w)
            elif op == "prefill":
                h, s, d, causal, bf16 = args[:5]
                q, k, v = (torch.randn(1, h, s, d, dtype=torch.bfloat16 if bf16 else torch.float32) for _ in range(3))
                run = lambda: sdpa(q, k, v, is_causal=bool(causal))
            elif op == "video":
                mode, t, s, h, d, bf16 = args[:6]  # mode 0 full 3D, 1 spatial, 2 temporal
                q, k, v = (torch.randn(1, t, s, h, d, dtype=torch.bfloat16 if bf16 else torch.float32) for _ in range(3))
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
                b, ctx, hq, hkv, d, bf16 = args[:6]
                dt = torch.bfloat16 if bf16 else torch.float32
                q = torch.randn(b, hq, 1, d, dtype=dt)
                k, v = (torch.randn(b, hkv, ctx, d, dtype=dt) for _ in range(2))
                run = lambda: sdpa(q, k, v, enable_gqa=True)
            me = threading.get_native_id()
            def idle():
                # wait (at most 50 ms) until the other threads stop: OpenMP workers spin ~10 ms after
                # a parallel region, which would take a core from the op timed next
                end = time.perf_counter() + 0.05
                while time.perf_counter() < end:
                    states = []
                    for tid in os.listdir("/proc/self/task"):
                        try:
                            with open("/proc/self/task/%s/stat" % tid) as f:
                                states.append(int(tid) == me or f.read().rsplit(")", 1)[1].split()[0] != "R")
                        except OSError:
                            pass
                    if all(states):
                        return
                    time.sleep(0.0005)
            run(); sync()
            if dev == "cpu":
                idle()
            print("ready torch=%s" % torch.__version__, flush=True)
            for line in sys.stdin:
                run()  # untimed: the op just ran on these cores, as the op's own turn does after this one
                sync(); t0 = time.perf_counter(); run(); sync(); elapsed = time.perf_counter() - t0
                if dev == "cpu":
                    idle()
                print("seconds=%.9f" % elapsed, flush=True)
            """;

    /** How long python may take to start or to answer one run before it is killed. */
    static final Duration TIMEOUT = Duration.ofMinutes(10);

    private final String op;
    private final Process process;
    private final BufferedReader output;
    private final Writer input;
    private final Duration timeout;
    private boolean ok = true;
    /** System.nanoTime() by which python must have answered; Long.MAX_VALUE while nothing is asked. */
    private volatile long deadline = Long.MAX_VALUE;

    private TorchPeer(String op, Process process, Duration timeout) {
        this.op = op;
        this.process = process;
        this.output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.input = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.timeout = timeout;
        // a python that stops answering is killed, so that its row says no peer ran instead of the
        // bench waiting on the pipe forever
        Thread.ofVirtual().start(() -> {
            while (process.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    process.descendants().forEach(ProcessHandle::destroyForcibly); // they hold the pipe open too
                    process.destroyForcibly();
                    return;
                }
                LockSupport.parkNanos(Math.min(left, 100_000_000L));
            }
        });
    }

    /** The script's last argument for an op in {@code dtype}: 1 for bf16, 0 for fp32. */
    static int bf16(DType dtype) { return dtype == DType.BF16 ? 1 : 0; }

    /**
     * A started peer for {@code op} with {@code args}, ready to run: on the cpu device at its thread
     * count, on the cuda device on the GPU (torch's CUDA build); null on emu, or when torch did not
     * start, which it says on stderr (once when python3 or torch is missing, with the error for any
     * other failure, e.g. a torch without CUDA).
     */
    static TorchPeer start(Device device, String op, int... args) {
        if (device.kind() == DeviceKind.EMU || missing != null) return null;
        int threads = device instanceof CpuDevice cpu ? cpu.library().threads() : 1;
        List<String> command = new ArrayList<>(List.of("python3", "-c", SCRIPT, op, Integer.toString(threads),
                device.kind() == DeviceKind.CUDA ? "cuda" : "cpu"));
        for (int a : args) command.add(Integer.toString(a));
        return start(op, command, TIMEOUT);
    }

    /**
     * The peer that {@code command} runs: it prints "ready torch=..." once set up, then "seconds=S"
     * per line it reads, each within {@code timeout}.
     */
    static TorchPeer start(String op, List<String> command, Duration timeout) {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            missing("python3 did not start: " + e.getMessage());
            return null;
        }
        TorchPeer peer = new TorchPeer(op, process, timeout);
        try {
            String line = peer.awaitLine("ready torch=");
            if (line.startsWith("ready torch=")) return peer;
            peer.close();
            missing("torch is not installed (pip install torch==2.13.0+cpu)");
            return null;
        } catch (IOException e) {
            peer.close();
            peer.fail("it stopped before it was ready: " + e.getMessage());
            return null;
        }
    }

    /** One timed run (seconds, timed inside python around the call alone); NaN once it has failed. */
    @Override
    public double measure() {
        if (!ok) return Double.NaN;
        try {
            Thread.sleep(1); // the op's pool workers spin briefly after it: let them sleep first
            input.write("run\n");
            input.flush();
            String line = awaitLine("seconds=");
            if (line.startsWith("seconds=")) return Double.parseDouble(line.substring(8));
            fail(line);
        } catch (IOException | NumberFormatException e) {
            fail(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ok = false;
        }
        return Double.NaN;
    }

    /** The next line that starts with {@code prefix} (or says torch is missing), within the timeout. */
    private String awaitLine(String prefix) throws IOException {
        deadline = System.nanoTime() + timeout.toNanos();
        try {
            String last = "";
            for (String line; (line = output.readLine()) != null; last = line)
                if (line.startsWith(prefix) || line.contains("No module named 'torch'")) return line;
            throw new IOException("it stopped" + (last.isEmpty() ? "" : ": " + last));
        } finally {
            deadline = Long.MAX_VALUE;
        }
    }

    /** Whether every run so far gave a time. */
    boolean ok() { return ok; }

    @Override
    public void close() {
        try {
            input.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (IOException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void fail(String why) {
        ok = false;
        System.err.println("torch peer for " + op + " failed: " + why);
    }

    private static volatile String missing;

    private static void missing(String why) {
        missing = why;
        System.err.println("no torch peer in this run: " + why);
    }
}
