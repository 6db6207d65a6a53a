package dev.gatun.kernels;

import dev.gatun.ops.LaunchBounds;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Does each kernel fit the largest block Gatun launches it with, on each architecture? Registers
 * are allocated per warp in units of 256 (8 per thread); shared memory per block is capped at
 * 163 KiB on sm_80 and 227 KiB on sm_90 (opt-in), per SM at 164 / 228 KiB with 1 KiB reserved per
 * block (CUDA occupancy rules as the CUDA C Programming Guide tabulates them).
 */
final class ResourceCheck {
    record Limits(int registersPerSm, int registersPerBlock, int threadsPerSm, int blocksPerSm,
                  int sharedPerBlock, int sharedPerSm) {
        static Limits of(String arch) {
            return arch.startsWith("sm_90")
                    ? new Limits(65536, 65536, 2048, 32, 227 * 1024, 228 * 1024)
                    : new Limits(65536, 65536, 2048, 32, 163 * 1024, 164 * 1024);
        }
    }

    /** One row of the checked table: the figures, the occupancy they allow, and what is wrong. */
    record Row(PtxasReport report, LaunchBounds bounds, int blocksPerSm, double occupancy, List<String> findings) {}

    private ResourceCheck() {}

    static Row check(PtxasReport r, Optional<LaunchBounds> declared) {
        List<String> findings = new ArrayList<>();
        if (declared.isEmpty()) {
            findings.add(r.kernel() + ": no LaunchBounds declared, so its launches cannot be checked");
            return new Row(r, null, 0, 0, findings);
        }
        LaunchBounds b = declared.get();
        Limits limits = Limits.of(r.arch());
        int threads = b.maxThreads();
        int warps = (threads + 31) / 32;
        int registersPerBlock = warps * 32 * roundUp(r.registers(), 8);
        int shared = r.staticSharedBytes() + b.maxDynamicSharedBytes();
        String at = r.kernel() + " on " + r.arch() + " at " + threads + " threads";
        if (registersPerBlock > limits.registersPerBlock())
            findings.add(at + ": " + r.registers() + " registers × " + threads + " threads = " + registersPerBlock
                    + " > " + limits.registersPerBlock() + " registers per block");
        if (shared > limits.sharedPerBlock())
            findings.add(at + ": " + shared + " bytes of shared memory > " + limits.sharedPerBlock() + " per block");
        if (b.hot() && r.spills())
            findings.add(at + ": hot kernel spills (" + r.spillStoreBytes() + " bytes stored, " + r.spillLoadBytes() + " loaded)");
        int byThreads = limits.threadsPerSm() / (warps * 32);
        int byRegisters = registersPerBlock == 0 ? Integer.MAX_VALUE : limits.registersPerSm() / registersPerBlock;
        int byShared = limits.sharedPerSm() / (shared + 1024);
        int blocks = Math.min(Math.min(byThreads, byRegisters), Math.min(byShared, limits.blocksPerSm()));
        return new Row(r, b, blocks, (double) blocks * warps * 32 / limits.threadsPerSm(), findings);
    }

    private static int roundUp(int value, int unit) { return (value + unit - 1) / unit * unit; }
}
