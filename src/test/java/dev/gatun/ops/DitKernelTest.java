package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Numerics;
import dev.gatun.testing.Reference;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** adaLN, the gated residual, 3D patchify/unpatchify and the timestep embedding against fp64 references on every device and dtype. */
@Tag("kernel")
class DitKernelTest {
    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        // {batch, tokens, dim}: dim 1, odd dims, and (full scale) rows longer than a block's 8 elements per thread
        int[][] shapes = TestDevices.small() ? new int[][] {{1, 1, 1}, {2, 3, 37}} : new int[][] {{1, 1, 1}, {2, 3, 37}, {3, 5, 300}, {2, 2, 9000}};
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (int[] s : shapes) cases.add(Arguments.of(device, dtype, s[0], s[1], s[2]));
        return cases;
    }

    @ParameterizedTest(name = "{0} {1} [{2}, {3}, {4}]")
    @MethodSource("cases")
    void adaLayerNormAndGatedResidual(Device device, DType dtype, int batch, int tokens, int dim) {
        Random random = Seeds.random("adaLN" + device + dtype + batch + tokens + dim);
        int n = batch * tokens * dim;
        float[] x = Reference.rounded(Seeds.gaussian(random, n, 2), dtype);
        for (int i = 0; i < n; i++) x[i] += dtype.round(1.5f); // a mean far from 0: the variance must not cancel
        x = Reference.rounded(x, dtype);
        float[] y = Reference.rounded(Seeds.gaussian(random, n, 1), dtype);
        float[] mod = Reference.rounded(Seeds.gaussian(random, batch * 3 * dim, 0.5), dtype); // [B, 3D] = [shift | scale | gate]
        float eps = 1e-6f;
        double[] norm = new double[n], res = new double[n];
        float[] normNaive = new float[n], resNaive = new float[n];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tokens; t++) {
                int row = (b * tokens + t) * dim;
                double mean = 0, var = 0;
                for (int c = 0; c < dim; c++) mean += x[row + c];
                mean /= dim;
                for (int c = 0; c < dim; c++) var += (x[row + c] - mean) * (x[row + c] - mean);
                double rstd = 1 / Math.sqrt(var / dim + eps);
                float meanF = dtype.round((float) mean), rstdF = dtype.round((float) rstd);
                for (int c = 0; c < dim; c++) {
                    double shift = mod[b * 3 * dim + c], scale = mod[b * 3 * dim + dim + c], gate = mod[b * 3 * dim + 2 * dim + c];
                    norm[row + c] = (x[row + c] - mean) * rstd * (1 + scale) + shift;
                    normNaive[row + c] = dtype.round(dtype.round(dtype.round((x[row + c] - meanF) * rstdF) * dtype.round(1 + (float) scale)) + (float) shift);
                    res[row + c] = x[row + c] + gate * y[row + c];
                    resNaive[row + c] = dtype.round(x[row + c] + dtype.round((float) gate * y[row + c]));
                }
            }
        String what = device.description() + " " + dtype + " [" + batch + ", " + tokens + ", " + dim + "]";
        try (Tensor tx = Tensor.of(device, dtype, x, batch, tokens, dim); Tensor ty = Tensor.of(device, dtype, y, batch, tokens, dim);
             Tensor tm = Tensor.of(device, dtype, mod, batch, 3L * dim); Tensor shift = tm.slice(1, 0, dim);
             Tensor scale = tm.slice(1, dim, 2L * dim); Tensor gate = tm.slice(1, 2L * dim, 3L * dim);
             Tensor out = Tensor.empty(device, dtype, batch, tokens, dim)) {
            out.fillBytes((byte) 0xFF);
            DitOps.adaLayerNorm(tx, shift, scale, eps, out);
            Numerics.assertClose("adaLayerNorm " + what, dtype, out.toFloatArray(), norm, normNaive);
            out.fillBytes((byte) 0xFF);
            DitOps.gatedResidual(tx, gate, ty, out);
            Numerics.assertClose("gatedResidual " + what, dtype, out.toFloatArray(), res, resNaive);
            DitOps.gatedResidual(tx, gate, ty, tx); // in place, as the blocks use it
            Numerics.assertClose("gatedResidual in place " + what, dtype, tx.toFloatArray(), res, resNaive);
            assertThrows(IllegalArgumentException.class, () -> DitOps.adaLayerNorm(tx, shift, tm.slice(1, 0, 3L * dim), eps, out),
                    "modulation vectors must be [B, D]");
        }
    }

    static List<Arguments> patchCases() {
        List<Arguments> cases = new ArrayList<>();
        // {B, C, F, H, W, pt, ph, pw}
        int[][] shapes = TestDevices.small() ? new int[][] {{1, 1, 1, 1, 1, 1, 1, 1}, {2, 3, 4, 6, 4, 2, 3, 2}}
                : new int[][] {{1, 1, 1, 1, 1, 1, 1, 1}, {2, 3, 4, 6, 4, 2, 3, 2}, {1, 4, 5, 8, 10, 1, 2, 2}, {2, 16, 8, 32, 32, 2, 2, 2}};
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.BF16))
                for (int[] s : shapes) cases.add(Arguments.of(device, dtype, s));
        return cases;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("patchCases")
    void patchifyIsTheConv3dLayoutAndUnpatchifyInvertsIt(Device device, DType dtype, int[] s) {
        int b = s[0], c = s[1], f = s[2], h = s[3], w = s[4], pt = s[5], ph = s[6], pw = s[7];
        Random random = Seeds.random("patchify" + device + dtype + java.util.Arrays.toString(s));
        float[] latent = Reference.rounded(Seeds.gaussian(random, b * c * f * h * w, 1), dtype);
        int tT = f / pt, sH = h / ph, sW = w / pw, patch = c * pt * ph * pw;
        float[] expected = new float[latent.length];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < tT; ti++)
                for (int hi = 0; hi < sH; hi++)
                    for (int wi = 0; wi < sW; wi++)
                        for (int ci = 0; ci < c; ci++)
                            for (int dt = 0; dt < pt; dt++)
                                for (int dh = 0; dh < ph; dh++)
                                    for (int dw = 0; dw < pw; dw++) {
                                        int token = ((bi * tT + ti) * sH + hi) * sW + wi;
                                        int feature = ((ci * pt + dt) * ph + dh) * pw + dw;
                                        int src = (((bi * c + ci) * f + ti * pt + dt) * h + hi * ph + dh) * w + wi * pw + dw;
                                        expected[token * patch + feature] = latent[src];
                                    }
        try (Tensor tl = Tensor.of(device, dtype, latent, b, c, f, h, w); Tensor tokens = Tensor.empty(device, dtype, b, tT, (long) sH * sW, patch);
             Tensor back = Tensor.empty(device, dtype, b, c, f, h, w)) {
            tokens.fillBytes((byte) 0xFF);
            DitOps.patchify(tl, tokens, pt, ph, pw);
            assertArrayEquals(expected, tokens.toFloatArray(), "patchify " + device.description() + Seeds.replay());
            back.fillBytes((byte) 0xFF);
            DitOps.unpatchify(tokens, back, pt, ph, pw);
            assertArrayEquals(latent, back.toFloatArray(), "unpatchify " + device.description() + Seeds.replay());
            if (f > 1) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DitOps.patchify(tl, f + 1, ph, pw));
                assertTrue(e.getMessage().contains("multiples of the patch size"), e.getMessage());
            }
        }
    }

    static List<Arguments> embeddingCases() {
        List<Arguments> cases = new ArrayList<>();
        for (Device device : TestDevices.all())
            for (DType dtype : List.of(DType.F32, DType.F16, DType.BF16))
                for (int dim : TestDevices.small() ? new int[] {1, 7} : new int[] {1, 7, 256, 1001}) cases.add(Arguments.of(device, dtype, dim));
        return cases;
    }

    @ParameterizedTest(name = "{0} {1} dim={2}")
    @MethodSource("embeddingCases")
    void timestepEmbeddingIsCosThenSin(Device device, DType dtype, int dim) {
        Random random = Seeds.random("tembed" + device + dtype + dim);
        float[] t = {0, 999, (float) (random.nextDouble() * 1000), 0.25f, (float) (random.nextDouble() * 1000)};
        float maxPeriod = 10000;
        int half = dim / 2;
        double[] expected = new double[t.length * dim];
        float[] naive = new float[expected.length];
        for (int r = 0; r < t.length; r++)
            for (int j = 0; j < 2 * half; j++) {
                int k = j < half ? j : j - half;
                double arg = t[r] * Math.exp(-Math.log(maxPeriod) * k / half);
                expected[r * dim + j] = j < half ? Math.cos(arg) : Math.sin(arg);
                naive[r * dim + j] = dtype.round((float) expected[r * dim + j]);
            }
        try (Tensor tt = Tensor.of(device, DType.F32, t, t.length); Tensor out = Tensor.empty(device, dtype, t.length, dim)) {
            out.fillBytes((byte) 0xFF);
            DitOps.timestepEmbedding(tt, maxPeriod, out);
            Numerics.assertClose("timestepEmbedding " + device.description() + " " + dtype + " dim=" + dim, dtype, out.toFloatArray(), expected, naive);
        }
    }
}
