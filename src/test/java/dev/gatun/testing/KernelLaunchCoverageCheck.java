package dev.gatun.testing;

import dev.gatun.kernels.PtxasReport;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs in the verify phase, after every test JVM: each kernel found in the built libraries was
 * launched by some test in the plain, ASan and TSan builds of cuemu (the deliberately wrong test
 * kernels: in at least one), and nvcc compiled each one for sm_80 and sm_90a. A kernel added
 * later without a test fails the build here.
 */
class KernelLaunchCoverageCheck {
    private static final List<String> VARIANTS = List.of("plain", "asan", "tsan");

    /** kernel -> cuemu build -> launches, merged over every test JVM's counts file. */
    private static Map<String, Map<String, Long>> launchCounts() throws IOException {
        Path dir = Path.of(System.getProperty("gatun.launchCounts.dir", "target/kernel-launches"));
        Map<String, Map<String, Long>> counts = new TreeMap<>();
        try (var files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".counts")).toList()) {
                String variant = file.getFileName().toString().split("-")[0];
                for (String line : Files.readAllLines(file)) {
                    String[] parts = line.split("\t");
                    counts.computeIfAbsent(parts[0], k -> new TreeMap<>()).merge(variant, Long.parseLong(parts[1]), Long::sum);
                }
            }
        }
        return counts;
    }

    @Test
    void everyKernelWasLaunchedInEveryBuild() throws IOException {
        Map<String, Map<String, Long>> counts = launchCounts();
        assertTrue(!counts.isEmpty(), "no launch counts: did the test JVMs run?");
        List<String> missing = new ArrayList<>();
        for (var entry : counts.entrySet()) {
            String kernel = entry.getKey();
            Map<String, Long> byVariant = entry.getValue();
            if (kernel.startsWith("test_")) {
                if (byVariant.values().stream().mapToLong(Long::longValue).sum() == 0) missing.add(kernel + " (never)");
                continue;
            }
            for (String variant : VARIANTS)
                if (byVariant.getOrDefault(variant, 0L) == 0) missing.add(kernel + " (" + variant + ")");
        }
        if (!missing.isEmpty()) fail("kernels never launched by any test: " + missing);
        System.out.printf("kernel launch coverage: %d kernels, all launched in %s%n", counts.size(), VARIANTS);
    }

    @Test
    void nvccCompiledEveryKernelForBothArchitectures() throws IOException {
        Path table = Path.of(System.getProperty("gatun.native.dir", "target/classes/dev/gatun/native/linux-x86_64"))
                .resolve("kernel-resources.txt");
        assertTrue(Files.isRegularFile(table), table + " is missing: nvcc did not run in this build");
        Set<String> compiled = new HashSet<>();
        for (PtxasReport r : PtxasReport.parse(Files.readString(table))) compiled.add(r.kernel() + " for " + r.arch());
        List<String> missing = new ArrayList<>();
        for (String kernel : launchCounts().keySet())
            for (String arch : List.of("sm_80", "sm_90a"))
                if (!kernel.startsWith("test_") && !compiled.contains(kernel + " for " + arch)) missing.add(kernel + " for " + arch);
        if (!missing.isEmpty()) fail("nvcc did not compile: " + missing);
    }
}
