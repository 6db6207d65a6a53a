package dev.gatun.cuda;

import dev.gatun.testing.CudaShim;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sticky device error mid-generation (an illegal address) stops the engine cleanly: every
 * unfinished request, running or waiting, ends with ERROR naming the device error; submit and
 * trySubmit refuse with one sentence; close() returns. Runs in a child JVM
 * (dev.gatun.testing.EngineStickyErrorOnShim) because the context stays poisoned.
 */
@Tag("cuda")
class EngineStickyErrorTest {
    @Test
    void aStickyErrorStopsTheEngineCleanly() throws Exception {
        if (!CudaShim.active()) return; // on a real GPU this would poison the context of the whole suite
        String output = CudaShim.runInChildJvm("dev.gatun.testing.EngineStickyErrorOnShim");
        String stop = "engine stopped: cuda:0 ";
        String since = " is unusable since cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS";
        for (int i = 0; i < 3; i++) { // two running, one waiting
            String line = line(output, "request " + i + ": ");
            assertTrue(line.startsWith("request " + i + ": ERROR :: " + stop) && line.contains(since), output);
        }
        String stoppedBy = line(output, "stoppedBy: ");
        assertTrue(stoppedBy.startsWith("stoppedBy: " + stop) && stoppedBy.contains(since), output);
        String sentence = stoppedBy.substring("stoppedBy: ".length());
        assertEquals("submit after stop: " + sentence, line(output, "submit after stop: "), output);
        assertEquals("trySubmit after stop: " + sentence, line(output, "trySubmit after stop: "), output);
        assertEquals(1, sentence.split("\\. ").length, "one sentence: " + sentence);
        assertEquals("metrics after stop: running=0 queued=0 usedBlocks=0", line(output, "metrics after stop: "), output);
        assertTrue(output.contains("close: returned") && output.contains("second close: returned"), output);
    }

    private static String line(String output, String prefix) {
        return output.lines().filter(l -> l.startsWith(prefix)).findFirst().orElse("(no line starting with '" + prefix + "')");
    }
}
