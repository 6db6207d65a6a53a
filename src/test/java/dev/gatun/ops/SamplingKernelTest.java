package dev.gatun.ops;

import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Philox;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sampling: Philox integers are identical on every device and to a plain Java Philox4x32-10;
 * every device picks the same tokens for the same (logits, params, seed, step); greedy is the
 * argmax; top-k and top-p never leave their sets; and the sampled frequencies follow the
 * filtered distribution (chi-square).
 */
@Tag("kernel")
class SamplingKernelTest {
    static float uniform(long seed, long counter) {
        int x = Philox.philox((int) counter, (int) (counter >>> 32), 0, 0, (int) seed, (int) (seed >>> 32))[0];
        return (x >>> 8) * 0x1p-24f;
    }

    @Test
    void philoxKnownAnswerAndEveryDeviceAgrees() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, Philox.philox(0, 0, 0, 0, 0, 0), "Random123 known answer");
        Random random = Seeds.random("philox");
        long seed = random.nextLong(), step = 0xffffffffL - 40; // the counter carries into its high word
        float[] expected = new float[100];
        for (int i = 0; i < expected.length; i++) expected[i] = uniform(seed, step + i);
        for (Device device : TestDevices.all())
            assertArrayEquals(expected, Sampling.uniforms(device, seed, step, expected.length), device.description());
    }

    @Test
    void everyDeviceSamplesTheSameTokens() {
        Random random = Seeds.random("sample-agree");
        int vocab = TestDevices.small() ? 300 : 5000, batch = 6;
        float[] logits = new float[batch * vocab];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) (random.nextGaussian() * 3);
        logits[17] = Float.NEGATIVE_INFINITY;
        Sampling.Params[] params = {Sampling.Params.greedy(), new Sampling.Params(1, 0, 1, 7), new Sampling.Params(0.7f, 40, 1, 8),
                new Sampling.Params(1.3f, 0, 0.9f, 9), new Sampling.Params(0.9f, 100, 0.5f, 10), new Sampling.Params(2, vocab + 5, 1, 11)};
        long[] steps = random.longs(batch, 0, 1 << 40).toArray();
        int[] first = null;
        for (Device device : TestDevices.all()) {
            int[] tokens = sample(device, logits, vocab, params, steps);
            if (first == null) first = tokens;
            assertArrayEquals(first, tokens, device.description() + Seeds.replay());
            assertArrayEquals(tokens, sample(device, logits, vocab, params, steps), "same seed and step, same tokens");
        }
        int argmax = 0;
        for (int i = 1; i < vocab; i++) if (logits[i] > logits[argmax]) argmax = i;
        assertEquals(argmax, first[0], "greedy is the argmax");
        assertTrue(rank(logits, 2 * vocab, vocab, first[2]) < 40, "top-k 40 picks among the 40 largest");
    }

    /**
     * Frequencies over many steps follow temperature + top-k + top-p applied in double precision:
     * top-k and top-p together (top-p binding), and top-k alone.
     */
    @Test
    void sampledFrequenciesFollowTheFilteredDistribution() {
        float[] row = {2.0f, 1.5f, 1.4f, 0.3f, 0.2f, -1f, -3f, Float.NEGATIVE_INFINITY};  // in descending order
        for (Sampling.Params params : new Sampling.Params[] {new Sampling.Params(0.8f, 6, 0.9f, Seeds.of("chi")),
                new Sampling.Params(1.0f, 3, 1.0f, Seeds.of("chi-top-k"))})
            for (Device device : TestDevices.all()) checkFrequencies(device, row, params);
    }

    private static void checkFrequencies(Device device, float[] row, Sampling.Params params) {
        int vocab = row.length;
        double[] p = new double[vocab];
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += p[i] = Math.exp(row[i] / params.temperature());
        double mass = 0, keptMass = 0;
        boolean[] kept = new boolean[vocab];
        for (int j = 0; j < params.topK(); j++) keptMass += p[j] / sum;                  // top-k
        for (int j = 0; j < params.topK() && mass < params.topP() * keptMass; j++) {   // then top-p over the renormalised top-k
            kept[j] = true;
            mass += p[j] / sum;
        }
        int n = device.kind() == dev.gatun.device.DeviceKind.CPU ? 20_000 : TestDevices.small() ? 300 : 2000;
        float[] logits = new float[n * vocab];
        for (int b = 0; b < n; b++) System.arraycopy(row, 0, logits, b * vocab, vocab);
        Sampling.Params[] all = new Sampling.Params[n];
        Arrays.fill(all, params);
        long[] steps = new long[n];
        for (int b = 0; b < n; b++) steps[b] = b;
        int[] counts = new int[vocab];
        for (int t : sample(device, logits, vocab, all, steps)) counts[t]++;
        double chi = 0;
        int df = -1;
        for (int i = 0; i < vocab; i++) {
            if (!kept[i]) {
                assertEquals(0, counts[i], "token " + i + " is outside the top-k/top-p set of " + params);
                continue;
            }
            double expectedCount = n * p[i] / sum / mass;
            chi += (counts[i] - expectedCount) * (counts[i] - expectedCount) / expectedCount;
            df++;
        }
        assertTrue(chi < 35.9, device.description() + ", " + params + ": chi-square " + chi + " with " + df + " degrees of freedom (p < 1e-6 bound for 5)");
    }

    @Test
    void badParametersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Sampling.Params(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling.Params(Float.NaN, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling.Params(1, -3, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling.Params(1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampling.Params(1, 0, 1.5f, 0));
        Device device = TestDevices.all().getFirst();
        try (Tensor half = Tensor.empty(device, DType.F16, 1, 4)) {
            assertThrows(IllegalArgumentException.class, () -> Sampling.sample(half, new Sampling.Params[] {Sampling.Params.greedy()}, new long[1]));
        }
    }

    private static int[] sample(Device device, float[] logits, int vocab, Sampling.Params[] params, long[] steps) {
        try (Tensor t = Tensor.of(device, DType.F32, logits, params.length, vocab)) {
            return Sampling.sample(t, params, steps);
        }
    }

    /** How many logits of the row starting at {@code offset} are larger than that of {@code token}. */
    private static int rank(float[] logits, int offset, int vocab, int token) {
        int larger = 0;
        for (int i = 0; i < vocab; i++) if (logits[offset + i] > logits[offset + token]) larger++;
        return larger;
    }

}
