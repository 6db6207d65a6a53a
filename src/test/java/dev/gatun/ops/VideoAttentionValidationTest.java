package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Wrong video attention input is refused in Java, before any native call, with a message naming what is wrong. */
class VideoAttentionValidationTest {
    private final Device cpu = Devices.get("cpu");
    private final Device emu = Devices.get("emu");

    private static void refused(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should mention '" + expected + "'");
    }

    private Tensor f32(long... shape) { return Tensor.empty(cpu, DType.F32, shape); }

    @Test
    void videoTensorsAreChecked() {
        try (Tensor q = f32(1, 3, 5, 4, 64); Tensor kv = f32(1, 3, 5, 2, 64); Tensor out = f32(1, 3, 5, 4, 64);
             Tensor rank4 = f32(3, 5, 4, 64); Tensor otherFrames = f32(1, 2, 5, 2, 64); Tensor otherDim = f32(1, 3, 5, 2, 72);
             Tensor threeKv = f32(1, 3, 5, 3, 64); Tensor half = Tensor.empty(cpu, DType.F16, 1, 3, 5, 2, 64);
             Tensor onEmu = Tensor.empty(emu, DType.F32, 1, 3, 5, 2, 64); Tensor ints = Tensor.empty(cpu, DType.I32, 1, 3, 5, 4, 64);
             Tensor dim12 = f32(1, 3, 5, 4, 12); Tensor dim136 = f32(1, 3, 5, 4, 136); Tensor noFrames = f32(1, 0, 5, 4, 64);
             Tensor smallOut = f32(1, 3, 5, 2, 64)) {
            refused("q must be an fp32/fp16/bf16 tensor [B, T, S, H, D]", () -> VideoAttention.full(rank4, kv, kv, out, 0.1f));
            refused("q must be an fp32/fp16/bf16 tensor", () -> VideoAttention.spatial(ints, kv, kv, out, 0.1f));
            refused("k must be a contiguous tensor [1, 3, 5, 2, 64]", () -> VideoAttention.temporal(q, otherFrames, kv, out, true, 0.1f));
            refused("k must be a contiguous tensor", () -> VideoAttention.spatial(q, otherDim, otherDim, out, 0.1f));
            refused("v must be a contiguous tensor [1, 3, 5, 2, 64]", () -> VideoAttention.full(q, kv, otherFrames, out, 0.1f));
            refused("out must be a contiguous tensor [1, 3, 5, 4, 64]", () -> VideoAttention.full(q, kv, kv, smallOut, 0.1f));
            refused("multiple of kv heads", () -> VideoAttention.spatial(q, threeKv, threeKv, out, 0.1f));
            refused("one dtype", () -> VideoAttention.full(q, half, half, out, 0.1f));
            refused("one device", () -> VideoAttention.temporal(q, onEmu, onEmu, out, false, 0.1f));
            refused("head dim must be a multiple of 8 up to 128, got 12", () -> VideoAttention.full(dim12, kv, kv, out, 0.1f));
            refused("head dim must be a multiple of 8 up to 128, got 136", () -> VideoAttention.full(dim136, kv, kv, out, 0.1f));
            refused("needs >= 1 frame", () -> VideoAttention.temporal(noFrames, kv, kv, out, false, 0.1f));
            refused("scale must be positive and finite", () -> VideoAttention.full(q, kv, kv, out, Float.NaN));
            refused("scale must be positive and finite", () -> VideoAttention.spatial(q, kv, kv, out, 0f));
            refused("scale must be positive and finite", () -> VideoAttention.temporal(q, kv, kv, out, false, Float.POSITIVE_INFINITY));
            refused("q, k, v and out are required", () -> VideoAttention.full(q, null, kv, out, 0.1f));
            try (Tensor transposed = q.transpose(1, 2)) {
                refused("q must be a contiguous tensor", () -> VideoAttention.spatial(transposed, kv, kv, out, 0.1f));
            }
        }
    }

    @Test
    void textTensorsAreChecked() {
        try (Tensor q = f32(2, 3, 5, 4, 64); Tensor kv = f32(2, 3, 5, 2, 64); Tensor out = f32(2, 3, 5, 4, 64);
             Tensor tq = f32(2, 7, 4, 64); Tensor tkv = f32(2, 7, 2, 64); Tensor tout = f32(2, 7, 4, 64);
             Tensor wrongBatch = f32(1, 7, 4, 64); Tensor wrongLength = f32(2, 6, 2, 64); Tensor wrongHeads = f32(2, 7, 4, 64);
             Tensor rank3 = f32(7, 4, 64); Tensor halfText = Tensor.empty(cpu, DType.F16, 2, 7, 2, 64)) {
            refused("textQ must be [B, L, H, D]", () -> VideoAttention.full(q, kv, kv, rank3, tkv, tkv, out, tout, 0.1f));
            refused("textQ must be a contiguous tensor [2, 7, 4, 64]", () -> VideoAttention.full(q, kv, kv, wrongBatch, tkv, tkv, out, tout, 0.1f));
            refused("textK must be a contiguous tensor [2, 7, 2, 64]", () -> VideoAttention.full(q, kv, kv, tq, wrongLength, tkv, out, tout, 0.1f));
            refused("textV must be a contiguous tensor [2, 7, 2, 64]", () -> VideoAttention.full(q, kv, kv, tq, tkv, wrongHeads, out, tout, 0.1f));
            refused("textOut must be a contiguous tensor [2, 7, 4, 64]", () -> VideoAttention.full(q, kv, kv, tq, tkv, tkv, out, tkv, 0.1f));
            refused("one dtype", () -> VideoAttention.full(q, kv, kv, tq, halfText, tkv, out, tout, 0.1f));
            refused("textQ, textK, textV and textOut are required", () -> VideoAttention.full(q, kv, kv, tq, tkv, tkv, out, null, 0.1f));
        }
    }

    @Test
    void anEmptyBatchLaunchesNothing() {
        for (Device device : new Device[] {cpu, emu}) {
            try (Tensor q = Tensor.empty(device, DType.F32, 0, 3, 5, 2, 64); Tensor out = Tensor.empty(device, DType.F32, 0, 3, 5, 2, 64);
                 Tensor tq = Tensor.empty(device, DType.F32, 0, 4, 2, 64); Tensor tout = Tensor.empty(device, DType.F32, 0, 4, 2, 64)) {
                VideoAttention.full(q, q, q, out, 0.1f);
                VideoAttention.full(q, q, q, tq, tq, tq, out, tout, 0.1f);
                VideoAttention.spatial(q, q, q, out, 0.1f);
                VideoAttention.temporal(q, q, q, out, true, 0.1f);
            }
        }
    }
}
