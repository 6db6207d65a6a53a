package dev.gatun.bindings.gatun;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * libc's aligned_alloc/free: the raw memory behind the cpu and emu devices. Plain malloc (not an
 * Arena) so that each block can be freed alone and, under ASan, gets the sanitizer's redzones.
 */
public final class HostMemory {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ALIGNED_ALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("aligned_alloc").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(), FunctionDescriptor.ofVoid(JAVA_LONG));

    private HostMemory() {}

    /** {@code bytes} (rounded up to {@code alignment}) of native memory, or 0 when malloc fails. */
    public static long allocate(long bytes, long alignment) {
        long size = Math.max(alignment, (bytes + alignment - 1) / alignment * alignment);
        try {
            return (long) ALIGNED_ALLOC.invokeExact(alignment, size);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void free(long address) {
        try {
            FREE.invokeExact(address);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
