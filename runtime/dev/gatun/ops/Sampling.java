package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * Next-token sampling on the device: greedy, temperature, top-k and top-p, with randomness from
 * the counter-based Philox4x32-10 generator keyed by (seed, step), so a request's tokens are
 * reproducible and identical on every device (kernels/sampling.cuh defines the algorithm to the
 * last fp32 operation).
 */
public final class Sampling {
    private Sampling() {}

    /**
     * Per-request parameters: temperature 0 = greedy; topK 0 = off (values at or above the
     * vocabulary are off too); topP 1 = off; seed keys the random stream.
     */
    public record Params(float temperature, int topK, float topP, long seed) {
        public static Params greedy() { return new Params(0, 0, 1, 0); }

        public Params {
            if (!(temperature >= 0) || !Float.isFinite(temperature))
                throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
            if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
        }
    }

    /** One token per row of {@code logits [batch, vocab]} fp32; row b uses {@code params[b]} and {@code steps[b]}. */
    public static int[] sample(Tensor logits, Params[] params, long[] steps) {
        if (logits.dtype() != DType.F32 || logits.rank() != 2 || !logits.isContiguous() || logits.shape(1) < 1)
            throw new IllegalArgumentException("sample: logits must be a contiguous fp32 [batch, vocab] tensor with vocab >= 1, got " + logits);
        int batch = Math.toIntExact(logits.shape(0)), vocab = Math.toIntExact(logits.shape(1));
        if (params.length != batch || steps.length != batch)
            throw new IllegalArgumentException("sample: " + batch + " rows need as many params and steps, got " + params.length + " and " + steps.length);
        if (batch == 0) return new int[0];
        float[] temperature = new float[batch], topP = new float[batch];
        int[] topK = new int[batch];
        long[] seeds = new long[batch];
        for (int b = 0; b < batch; b++) {
            temperature[b] = params[b].temperature();
            topK[b] = params[b].topK();
            topP[b] = params[b].topP();
            seeds[b] = params[b].seed();
        }
        Device d = logits.device();
        try (Tensor tokens = Tensor.empty(d, DType.I32, batch); Tensor t = Tensor.of(d, DType.F32, temperature, batch);
             Tensor k = Tensor.of(d, topK, batch); Tensor p = Tensor.of(d, DType.F32, topP, batch);
             Tensor s = Tensor.of(d, seeds, batch); Tensor st = Tensor.of(d, steps, batch)) {
            Backends.of(d).sample(new AttentionCalls.Sample(logits, tokens, t, k, p, s, st, batch, vocab));
            return tokens.toIntArray();
        }
    }

    /** {@code n} uniforms in [0, 1) from Philox counters {@code step, step+1, ...} under {@code seed}: the same bits on every device. */
    public static float[] uniforms(Device device, long seed, long step, int n) {
        if (n < 0) throw new IllegalArgumentException("uniforms: n must be >= 0, got " + n);
        try (Tensor out = Tensor.empty(device, DType.F32, n)) {
            if (n > 0) Backends.of(device).philoxUniform(out, seed, step);
            return out.toFloatArray();
        }
    }
}
