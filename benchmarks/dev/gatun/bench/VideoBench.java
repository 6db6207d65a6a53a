package dev.gatun.bench;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.ops.VideoAttention;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Video attention: full 3D attention against the factorized spatial + temporal pair on the same
 * [B, T, S, H, D] latents, GFLOP/s against the FMA peak (also in bf16: on a GPU against its MMA
 * peak, on the cpu against its bf16 dot-product peak where it has one), and one line per shape with
 * the measured
 * time ratio full / (spatial + temporal) beside the predicted FLOP ratio
 * (TS)² / (T·S² + S·T²) = TS / (T + S). Shapes: Latte-like (T 16, S 256 = 16×16, d 72) and
 * CogVideoX-like (T 13, S 1350 = 30×45, d 64), with fewer heads and patches on cpu and emu (the
 * shape column says what ran). Rows: vid-full, vid-spat (spatial), vid-temp (temporal) and vid-s+t
 * (their sum, the factorized layer's attention). On the cpu and cuda devices each row is beside
 * torch SDPA on the same latents on that device (see {@link TorchPeer}), each timed alternately
 * with the peak and the peer.
 */
final class VideoBench {
    private VideoBench() {}

    record Shape(String name, int frames, int patches, int heads, int dim) {}

    static List<BenchRow> run(Device device, boolean quick, int repetitions, Ceilings ceilings) {
        boolean emu = BenchMain.emulated(device), gpu = device.kind() == DeviceKind.CUDA && !emu;
        int reps = emu ? Math.min(3, repetitions) : repetitions;
        List<Shape> shapes = gpu
                ? List.of(new Shape("latte", 16, 256, 16, 72), new Shape("cogvx", 13, 1350, quick ? 8 : 48, 64))
                : emu ? List.of(new Shape("latte", 16, 64, 1, 72), new Shape("cogvx", 13, 54, 1, 64))
                : List.of(new Shape("latte", 16, 256, quick ? 1 : 4, 72), new Shape("cogvx", 13, quick ? 150 : 350, 1, 64));
        List<BenchRow> rows = new ArrayList<>();
        for (DType dtype : AttentionBench.attentionTypes(device))
            for (Shape s : shapes) rows.addAll(compare(device, dtype, s, reps, ceilings));
        return rows;
    }

    private static List<BenchRow> compare(Device device, DType dtype, Shape s, int reps, Ceilings ceilings) {
        int t = s.frames(), p = s.patches();
        float scale = (float) (1 / Math.sqrt(s.dim()));
        try (Tensor q = random(device, dtype, s, 1); Tensor k = random(device, dtype, s, 2); Tensor v = random(device, dtype, s, 3);
             Tensor out = Tensor.empty(device, dtype, 1, t, p, s.heads(), s.dim())) {
            Ceilings.Measured full = measure(device, dtype, 0, s, () -> VideoAttention.full(q, k, v, out, scale), reps, ceilings);
            Ceilings.Measured spatial = measure(device, dtype, 1, s, () -> VideoAttention.spatial(q, k, v, out, scale), reps, ceilings);
            Ceilings.Measured temporal = measure(device, dtype, 2, s, () -> VideoAttention.temporal(q, k, v, out, false, scale), reps, ceilings);
            double unit = 4.0 * s.heads() * s.dim();  // QKᵀ and PV, an FMA = 2 FLOPs
            double fullFlops = unit * (double) t * p * t * p, spatialFlops = unit * t * (double) p * p, temporalFlops = unit * p * (double) t * t;
            String shape = s.name() + " T" + t + " S" + p + " h" + s.heads() + " d" + s.dim();
            double pair = spatial.seconds() + temporal.seconds();
            System.out.printf(Locale.ROOT, "  video %s on %s %s: full %.3f ms, spatial+temporal %.3f ms: measured ratio %.2fx, predicted TS/(T+S) %.2fx%n",
                    shape, device.kind().id(), dtype.id(), full.seconds() * 1e3, pair * 1e3, full.seconds() / pair, (double) t * p / (t + p));
            // the pair's ceiling: the peak each half saw, weighted by its share of the pair's FLOPs
            double pairFlops = spatialFlops + temporalFlops;
            double pairCeiling = pairFlops / (spatialFlops / spatial.ceiling() + temporalFlops / temporal.ceiling());
            Double peerPair = spatial.peerSeconds() == null || temporal.peerSeconds() == null ? null : spatial.peerSeconds() + temporal.peerSeconds();
            return List.of(row(device, dtype, "vid-full", shape, fullFlops, full),
                    row(device, dtype, "vid-spat", shape, spatialFlops, spatial),
                    row(device, dtype, "vid-temp", shape, temporalFlops, temporal),
                    row(device, dtype, "vid-s+t", shape, pairFlops, new Ceilings.Measured(pair, pairCeiling, spatial.ceilingName(), peerPair)));
        }
    }

    /** {@code op} beside the peak of its units and torch SDPA in {@code mode} (0 full, 1 spatial, 2 temporal). */
    private static Ceilings.Measured measure(Device device, DType dtype, int mode, Shape s, Runnable op, int reps, Ceilings ceilings) {
        try (TorchPeer peer = TorchPeer.start(device, "video", mode, s.frames(), s.patches(), s.heads(), s.dim(), TorchPeer.bf16(dtype))) {
            return ceilings.computeBound(device, dtype, op, reps, peer);
        }
    }

    private static BenchRow row(Device device, DType dtype, String op, String shape, double flops, Ceilings.Measured m) {
        return new BenchRow(op, device.kind().id(), dtype.id(), shape, flops / 1e9, "GFLOP", m.seconds(), flops / m.seconds() / 1e9, "GFLOP/s",
                m.ceiling(), m.ceilingName(), m.peer("torch sdpa"), m.peerSeconds());
    }

    private static Tensor random(Device device, DType dtype, Shape s, int salt) {
        Random random = new Random(31L * s.frames() + s.patches() + salt);
        float[] values = new float[s.frames() * s.patches() * s.heads() * s.dim()];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        return Tensor.of(device, dtype, values, 1, s.frames(), s.patches(), s.heads(), s.dim());
    }
}
