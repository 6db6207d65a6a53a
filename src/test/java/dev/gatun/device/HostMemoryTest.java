package dev.gatun.device;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Host device blocks of 2 MiB or more start on a 2 MiB boundary and are advised to the kernel as
 * transparent huge pages (the mapping's "hg" flag) where it offers them; smaller blocks stay 64-byte
 * aligned. (Whether the kernel then backs them with huge pages depends on its free memory, so the
 * test checks the advice, not AnonHugePages.)
 */
class HostMemoryTest {
    private static final long HUGE_PAGE = 2L << 20;

    @Test
    void largeBlocksAreHugePageAlignedAndAdvised() throws IOException {
        for (CpuDevice cpu : TestDevices.cpus()) {
            try (Tensor small = Tensor.empty(cpu, DType.F32, 1000); Tensor large = Tensor.empty(cpu, DType.F32, 3L << 20)) {
                assertEquals(0, small.dataAddress() % 64, "small blocks: 64-byte aligned");
                assertEquals(0, large.dataAddress() % HUGE_PAGE, "blocks of 2 MiB or more: 2 MiB aligned");
                Path thp = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
                if (Files.exists(thp) && !Files.readString(thp).contains("[never]"))
                    assertTrue(vmFlags(large.dataAddress()).contains(" hg"),
                            "THP is on (" + Files.readString(thp).strip() + "): the block's mapping is advised (VmFlags hg)");
            }
        }
    }

    /** The VmFlags line of the mapping of this process that holds {@code address}. */
    private static String vmFlags(long address) throws IOException {
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (Character.isDigit(line.charAt(0)) || (line.charAt(0) >= 'a' && line.charAt(0) <= 'f')) {
                String[] range = line.substring(0, line.indexOf(' ')).split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= address && address < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        return "";
    }
}
