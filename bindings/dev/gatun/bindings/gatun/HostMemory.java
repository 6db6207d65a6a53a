package dev.gatun.bindings.gatun;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The process's aligned_alloc/free: the raw memory behind the cpu and emu devices. Plain malloc
 * (not an Arena) so that each block can be freed alone. Resolved with dlsym(RTLD_DEFAULT), not
 * Linker.defaultLookup() (which binds libc directly), so that an allocator preloaded into the
 * process wins: under ASan every block gets the sanitizer's redzones.
 */
public final class HostMemory {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ALIGNED_ALLOC = LINKER.downcallHandle(
            global("aligned_alloc"), FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(global("free"), FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle MADVISE = LINKER.defaultLookup().find("madvise")
            .map(s -> LINKER.downcallHandle(s, FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT)))
            .orElse(null);
    private static final int MADV_HUGEPAGE = 14;  // Linux

    private HostMemory() {}

    /** dlsym(RTLD_DEFAULT, name): the definition the process's global scope resolves to (libc's on old glibc). */
    private static MemorySegment global(String name) {
        var dlsymSymbol = LINKER.defaultLookup().find("dlsym");
        if (dlsymSymbol.isEmpty()) return LINKER.defaultLookup().find(name).orElseThrow();
        MethodHandle dlsym = LINKER.downcallHandle(dlsymSymbol.get(), FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment symbol = (MemorySegment) dlsym.invokeExact(MemorySegment.NULL, arena.allocateFrom(name));
            if (symbol.equals(MemorySegment.NULL)) throw new UnsatisfiedLinkError("dlsym found no " + name);
            return symbol;
        } catch (Throwable t) {
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    /** {@code bytes} (rounded up to {@code alignment}) of native memory, or 0 when malloc fails. */
    public static long allocate(long bytes, long alignment) {
        try {
            return (long) ALIGNED_ALLOC.invokeExact(alignment, rounded(bytes, alignment));
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * As {@link #allocate}, aligned to {@code hugePage} and advised to Linux as transparent huge
     * pages (madvise MADV_HUGEPAGE) before it is first touched: where THP is enabled ("madvise" or
     * "always") the kernel backs it with pages of that size. Where THP is off or the platform has no
     * madvise the memory works the same with small pages.
     */
    public static long allocateHugePages(long bytes, long hugePage) {
        long address = allocate(bytes, hugePage);
        if (address != 0 && MADVISE != null) {
            try {
                int refused = (int) MADVISE.invokeExact(address, rounded(bytes, hugePage), MADV_HUGEPAGE);  // advice only: nonzero where THP is off
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
        return address;
    }

    private static long rounded(long bytes, long alignment) {
        return Math.max(alignment, (bytes + alignment - 1) / alignment * alignment);
    }

    public static void free(long address) {
        try {
            FREE.invokeExact(address);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
