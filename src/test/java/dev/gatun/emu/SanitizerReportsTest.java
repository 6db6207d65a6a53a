package dev.gatun.emu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sanitizer builds of cuemu find what they are for: ASan an out-of-bounds shared or global
 * read, TSan a missing __syncthreads between a shared-memory write and another thread's read, and
 * TSan stays silent on the same kernel with the barrier. Each runs in a child JVM started through
 * native/sanitizer/bin/java, because a sanitizer report ends the process it happens in.
 */
class SanitizerReportsTest {
    record Result(int exit, String output) {}

    private static Result child(String sanitizer, String kernel, String options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of("native/sanitizer/bin/java").toAbsolutePath().toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "-Dgatun.emu.variant=" + sanitizer, "-Dgatun.allocator.caching=false"));
        String counts = System.getProperty("gatun.launchCounts.dir");
        if (counts != null) command.add("-Dgatun.launchCounts.dir=" + counts);
        command.addAll(List.of("dev.gatun.testing.LaunchTestKernel", kernel));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("GATUN_SANITIZER", sanitizer);
        builder.environment().put(sanitizer.equals("asan") ? "ASAN_OPTIONS" : "TSAN_OPTIONS", options);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(5, TimeUnit.MINUTES), "child JVM did not finish");
        return new Result(process.exitValue(), output);
    }

    private static final String ASAN = "detect_leaks=0,handle_segv=0,allow_user_segv_handler=1";
    // keep going after a report so the child still records its launch counts; exit code 66 marks the report
    private static final String TSAN = "ignore_noninstrumented_modules=1,halt_on_error=0,exitcode=66";

    @Test
    void asanFindsAnOutOfBoundsSharedRead() throws Exception {
        Result r = child("asan", "test_oob_shared", ASAN);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("AddressSanitizer") && r.output().contains("global-buffer-overflow"), r.output());
        assertTrue(r.output().contains("bad_kernels.cu"), "report points at the kernel source: " + r.output());
    }

    @Test
    void asanFindsAnOutOfBoundsGlobalRead() throws Exception {
        Result r = child("asan", "test_oob_global", ASAN);
        assertNotEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("AddressSanitizer: heap-buffer-overflow"), r.output());
    }

    @Test
    void tsanFindsAMissingBarrier() throws Exception {
        Result r = child("tsan", "test_missing_barrier", TSAN);
        assertEquals(66, r.exit(), r.output());
        assertTrue(r.output().contains("ThreadSanitizer: data race") && r.output().contains("bad_kernels.cu"), r.output());
    }

    @Test
    void tsanIsSilentWithTheBarrier() throws Exception {
        Result r = child("tsan", "test_with_barrier", TSAN);
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().contains("ThreadSanitizer"), r.output());
        assertTrue(r.output().contains("launched test_with_barrier"), r.output());
    }
}
