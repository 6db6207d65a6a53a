package dev.gatun.testing;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    @Test
    void everyKernelWasLaunchedInEveryBuild() throws IOException {
        Path dir = Path.of(System.getProperty("gatun.launchCounts.dir", "target/kernel-launches"));
        Map<String, Map<String, Long>> counts = new TreeMap<>(); // kernel -> variant -> launches
        try (var files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".counts")).toList()) {
                String variant = file.getFileName().toString().split("-")[0];
                for (String line : Files.readAllLines(file)) {
                    String[] parts = line.split("\t");
                    counts.computeIfAbsent(parts[0], k -> new TreeMap<>()).merge(variant, Long.parseLong(parts[1]), Long::sum);
                }
            }
        }
        assertTrue(!counts.isEmpty(), "no launch counts under " + dir + ": did the test JVMs run?");
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
        String text = Files.readString(table);
        Path dir = Path.of(System.getProperty("gatun.launchCounts.dir", "target/kernel-launches"));
        TreeSet<String> kernels = new TreeSet<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".counts")).toList())
                for (String line : Files.readAllLines(f)) if (!line.startsWith("test_")) kernels.add(line.split("\t")[0]);
        }
        List<String> missing = new ArrayList<>();
        for (String kernel : kernels)
            for (String arch : List.of("sm_80", "sm_90a")) {
                Matcher m = Pattern.compile("(?m)^.*" + Pattern.quote(kernel) + "\\b.*" + arch + ".*$|(?m)^.*" + arch + ".*" + Pattern.quote(kernel) + "\\b.*$").matcher(text);
                if (!m.find()) missing.add(kernel + " for " + arch);
            }
        if (!missing.isEmpty()) fail("no ptxas entry in " + table + " for: " + missing);
    }
}
