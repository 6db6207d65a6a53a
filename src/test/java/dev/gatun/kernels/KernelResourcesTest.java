package dev.gatun.kernels;

import dev.gatun.ops.LaunchBounds;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The offline check of every kernel's ptxas report (native/build.sh records it for sm_80 and
 * sm_90a) against the launch bounds Gatun uses; writes the checked table with occupancy to
 * target/kernel-resources.md and fails the build on any finding.
 */
class KernelResourcesTest {
    private static final Path TABLE = Path.of("target/classes/dev/gatun/native/linux-x86_64/kernel-resources.txt");

    @Test
    void everyKernelFitsItsLargestLaunchAndHotKernelsDoNotSpill() throws IOException {
        assertTrue(Files.isRegularFile(TABLE), TABLE + " is missing: nvcc did not run in this build");
        List<PtxasReport> reports = PtxasReport.parse(Files.readString(TABLE));
        Set<String> archs = new TreeSet<>();
        reports.forEach(r -> archs.add(r.arch()));
        assertEquals(Set.of("sm_80", "sm_90a"), archs, "ptxas reports for both architectures");
        StringBuilder table = new StringBuilder("| kernel | arch | regs | spill st/ld | static smem | max threads | dyn smem | blocks/SM | occupancy |\n|---|---|---|---|---|---|---|---|---|\n");
        List<String> findings = new ArrayList<>();
        for (PtxasReport r : reports) {
            if (r.kernel().startsWith("test_")) continue;
            ResourceCheck.Row row = ResourceCheck.check(r, LaunchBounds.of(r.kernel()));
            findings.addAll(row.findings());
            if (row.bounds() != null)
                table.append(String.format("| %s | %s | %d | %d/%d | %d | %d | %d | %d | %.0f%% |%n", r.kernel(), r.arch(), r.registers(),
                        r.spillStoreBytes(), r.spillLoadBytes(), r.staticSharedBytes(), row.bounds().maxThreads(),
                        row.bounds().maxDynamicSharedBytes(), row.blocksPerSm(), 100 * row.occupancy()));
        }
        Files.writeString(Path.of("target/kernel-resources.md"), table);
        System.out.print(table);
        if (!findings.isEmpty()) fail("kernel resource check failed:\n  " + String.join("\n  ", findings));
    }

    /** The check itself can fail: a spilling hot kernel, too many registers, too much shared memory. */
    @Test
    void theCheckCatchesSpillsAndBlocksThatDoNotFit() {
        LaunchBounds hot = new LaunchBounds("hot_", 1024, 0, true);
        var spill = ResourceCheck.check(new PtxasReport("hot_attention", "sm_90a", 64, 8, 8, 8, 0), Optional.of(hot));
        assertTrue(spill.findings().getFirst().contains("spills"), spill.findings().toString());
        var registers = ResourceCheck.check(new PtxasReport("hot_attention", "sm_80", 72, 0, 0, 0, 0), Optional.of(hot));
        assertTrue(registers.findings().getFirst().contains("72 registers × 1024 threads"), registers.findings().toString());
        var shared = ResourceCheck.check(new PtxasReport("hot_x", "sm_80", 32, 0, 0, 0, 200 * 1024),
                Optional.of(new LaunchBounds("hot_", 128, 0, true)));
        assertTrue(shared.findings().getFirst().contains("shared memory"), shared.findings().toString());
        var fits = ResourceCheck.check(new PtxasReport("hot_x", "sm_90a", 32, 0, 0, 0, 128), Optional.of(hot));
        assertTrue(fits.findings().isEmpty());
        assertEquals(2, fits.blocksPerSm());
        assertFalse(ResourceCheck.check(new PtxasReport("unknown", "sm_80", 8, 0, 0, 0, 0), Optional.empty()).findings().isEmpty());
    }
}
