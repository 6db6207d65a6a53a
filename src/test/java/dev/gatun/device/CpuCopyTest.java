package dev.gatun.device;

import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The cpu library's multi-threaded copy (the benchmark's copy-bandwidth ceiling) copies every
 * byte on each of its paths: small (libc), overlapping (memmove), 1 MiB pieces across threads, and
 * from 16 MiB streaming stores with an unaligned head and tail. Both CPU builds.
 */
class CpuCopyTest {
    @Test
    void everyPathCopiesEveryByte() {
        List<CpuDevice> cpus = TestDevices.cpus();
        long[][] cases = {{4099, 0, 5}, {(1 << 20) + 5, 3, 0}, {(16 << 20) + 4099, 3, 17}, {(16 << 20) + 64, 0, 64}};
        for (CpuDevice cpu : cpus)
            for (long[] c : cases) {
                long bytes = c[0], dstOffset = c[1], srcOffset = c[2];
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment src = arena.allocate(bytes + srcOffset, 64).asSlice(srcOffset);
                    MemorySegment dst = arena.allocate(bytes + dstOffset + 1, 64).asSlice(dstOffset);
                    for (long i = 0; i < bytes; i++) src.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7 + (i >> 13)));
                    dst.fill((byte) 0x5A);
                    cpu.library().copy(dst.address(), src.address(), bytes);
                    String what = cpu.description() + ": " + bytes + " bytes, dst +" + dstOffset + ", src +" + srcOffset;
                    assertEquals(-1, src.mismatch(dst.asSlice(0, bytes)), what);
                    assertEquals((byte) 0x5A, dst.get(java.lang.foreign.ValueLayout.JAVA_BYTE, bytes), what + ": the byte past the end");
                }
            }
    }

    @Test
    void overlappingRangesCopyAsMemmove() {
        List<CpuDevice> cpus = TestDevices.cpus();
        int bytes = (2 << 20) + 7, shift = 1001;
        byte[] expected = new byte[bytes + shift];
        for (int i = 0; i < bytes + shift; i++) expected[i] = (byte) (i * 13 + 1);
        byte[] forward = expected.clone();
        System.arraycopy(forward, 0, forward, shift, bytes);  // System.arraycopy is memmove
        for (CpuDevice cpu : cpus)
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(bytes + shift, 64);
                MemorySegment.copy(expected, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes + shift);
                cpu.library().copy(buf.address() + shift, buf.address(), bytes);
                assertEquals(-1, MemorySegment.ofArray(forward).mismatch(buf), cpu.description());
            }
    }
}
