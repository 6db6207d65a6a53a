package dev.gatun.testing;

import dev.gatun.device.Devices;
import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.LlamaModel;
import dev.gatun.llm.engine.Engine;
import dev.gatun.llm.engine.Metrics;
import dev.gatun.llm.engine.Request;
import dev.gatun.llm.engine.RequestHandle;
import dev.gatun.llm.engine.Result;
import dev.gatun.tensor.DType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Child-JVM entry point for EngineStickyErrorTest (a sticky error poisons the CUDA context for the
 * rest of the process): an engine on the cuda device over the shim serves a few requests; between
 * two steps the next launch is made to fail with a sticky CUDA_ERROR_ILLEGAL_ADDRESS. Prints, one
 * line each, what every request ended with, what submit and trySubmit say afterwards, and that
 * close() returned; the parent checks the lines. Exits 0 unless something threw unexpectedly.
 */
public final class EngineStickyErrorOnShim {
    private EngineStickyErrorOnShim() {}

    public static void main(String[] args) throws Exception {
        CudaShim.install();
        LlamaConfig config = new LlamaConfig(64, 128, 2, 4, 2, 16, 1e-5f, 10000f, 300, false, 1024, DType.F32);
        Path dir = Files.createTempDirectory("gatun-engine-sticky");
        try {
            new TinyLlama(config, new Random(7)).save(dir, DType.F32, 0);
            Engine engine = new Engine(LlamaModel.load(dir, Devices.get("cuda")), Engine.Config.of(64).withBatch(64, 2));
            Random random = new Random(11);
            List<RequestHandle> handles = new ArrayList<>();
            // two run, one waits (two sequences at a time)
            for (int i = 0; i < 3; i++) handles.add(engine.submit(Request.greedy(random.ints(8, 0, 300).toArray(), 200)));
            int seen = 0;
            for (int ignored : handles.getFirst()) if (++seen == 3) break;
            // mid-generation (only the engine thread launches): its next launch hits an illegal address
            CudaShim.configure("sticky_launch", "1");
            for (int i = 0; i < handles.size(); i++) {
                Result r = handles.get(i).result().get(1, TimeUnit.MINUTES);
                System.out.println("request " + i + ": " + r.reason() + " :: " + (r.error() == null ? "no error" : r.error().getMessage()));
            }
            System.out.println("stoppedBy: " + (engine.stoppedBy() == null ? "null" : engine.stoppedBy().getMessage()));
            try {
                engine.submit(Request.greedy(new int[] {1, 2, 3}, 4));
                System.out.println("submit after stop: accepted");
            } catch (IllegalStateException e) {
                System.out.println("submit after stop: " + e.getMessage());
            }
            try {
                engine.trySubmit(Request.greedy(new int[] {1, 2, 3}, 4));
                System.out.println("trySubmit after stop: accepted");
            } catch (IllegalStateException e) {
                System.out.println("trySubmit after stop: " + e.getMessage());
            }
            Metrics m = engine.metrics(); // one snapshot: the line must describe one moment
            System.out.println("metrics after stop: running=" + m.running() + " queued=" + m.queued() + " usedBlocks=" + m.usedBlocks());
            engine.close();
            System.out.println("close: returned");
            engine.close();
            System.out.println("second close: returned");
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
