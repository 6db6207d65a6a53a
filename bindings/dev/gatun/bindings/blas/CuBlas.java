package dev.gatun.bindings.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.gatun.bindings.cuda.Binder;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * cuBLAS through FFM downcalls: handles, their stream, and {@code cublasGemmEx}. The library must
 * be used from a thread whose current CUDA context is the one the handle was created in (the
 * caller, CudaDevice, makes it current before every call). Device pointers are {@code long}s
 * ({@code CUdeviceptr}), handles and streams zero-length segments; matrices are column-major as
 * cuBLAS has them. Every status is checked: a failure throws {@link CuBlasException}.
 */
public final class CuBlas {
    /** System property naming a library to load instead of the system's cuBLAS (a test shim). */
    public static final String LIBRARY_PROPERTY = "gatun.cublas.library";
    private static final List<String> SYSTEM_LIBRARIES = List.of("libcublas.so.13", "libcublas.so.12");

    /** {@code cublasOperation_t}. */
    public enum Op { N, T }

    /** The element types Gatun multiplies: {@code cudaDataType_t} codes. */
    public enum DataType {
        R_32F(0), R_16F(2), R_16BF(14);

        final int code;

        DataType(int code) { this.code = code; }
    }

    /** The outcome of {@link #load()}: a usable library, or why there is none. */
    public record Availability(Optional<CuBlas> library, String reason) {
        public boolean available() { return library.isPresent(); }
    }

    private static final int CUBLAS_COMPUTE_32F = 68;
    private static final int CUBLAS_GEMM_DEFAULT = -1;

    private final String name;
    private final Binder.Fn create, destroy, setStream, getVersion, gemmEx;
    private final Optional<Binder.Fn> statusName, statusString;

    private CuBlas(String name, Binder b) {
        this.name = name;
        create = b.require("cublasCreate_v2", fd(ADDRESS));
        destroy = b.require("cublasDestroy_v2", fd(ADDRESS));
        setStream = b.require("cublasSetStream_v2", fd(ADDRESS, ADDRESS));
        getVersion = b.require("cublasGetVersion_v2", fd(ADDRESS, ADDRESS));
        // (handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc, compute, algo)
        gemmEx = b.require("cublasGemmEx", fd(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT));
        statusName = b.find("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        statusString = b.find("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static FunctionDescriptor fd(MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    /**
     * Loads the library named by {@link #LIBRARY_PROPERTY}, else the system's cuBLAS 13 or 12.
     * Never throws. The library stays mapped for the life of the process.
     */
    public static Availability load() {
        String override = System.getProperty(LIBRARY_PROPERTY);
        if (override != null && !override.isBlank()) return load(Path.of(override));
        List<String> tried = new ArrayList<>();
        for (String library : SYSTEM_LIBRARIES) {
            Availability a = open(library, () -> SymbolLookup.libraryLookup(library, Arena.global()));
            if (a.available()) return a;
            tried.add(a.reason());
        }
        return new Availability(Optional.empty(), "no cuBLAS: " + String.join("; ", tried));
    }

    /** Like {@link #load()}, from an explicit library file (a test shim). Never throws. */
    public static Availability load(Path library) {
        if (!Files.isRegularFile(library)) return new Availability(Optional.empty(), library + " not found");
        return open(library.toString(), () -> SymbolLookup.libraryLookup(library, Arena.global()));
    }

    private static Availability open(String name, java.util.function.Supplier<SymbolLookup> opener) {
        try {
            Binder binder = new Binder(opener.get());
            CuBlas blas = new CuBlas(name, binder);
            if (!binder.missing().isEmpty())
                return new Availability(Optional.empty(), name + " lacks " + String.join(", ", binder.missing()));
            return new Availability(Optional.of(blas), name);
        } catch (IllegalArgumentException e) {
            return new Availability(Optional.empty(), name + " not found");
        } catch (IllegalCallerException e) {
            return new Availability(Optional.empty(), "native access to " + name
                    + " denied: run with --enable-native-access=ALL-UNNAMED");
        }
    }

    /** The library file this binding was loaded from. */
    public String library() { return name; }

    /** {@code cublasCreate_v2}: a handle in the current context; release it with {@link #destroy}. */
    public MemorySegment create() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(create, () -> (int) create.handle().invokeExact(out));
            return out.get(ADDRESS, 0);
        }
    }

    public void destroy(MemorySegment handle) {
        check(destroy, () -> (int) destroy.handle().invokeExact(handle));
    }

    /** Work on the handle is ordered on {@code stream} (a {@code CUstream}; NULL: the legacy default). */
    public void setStream(MemorySegment handle, MemorySegment stream) {
        check(setStream, () -> (int) setStream.handle().invokeExact(handle, stream));
    }

    /** {@code cublasGetVersion_v2}: major·10000 + minor·100 + patch. */
    public int version(MemorySegment handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(getVersion, () -> (int) getVersion.handle().invokeExact(handle, out));
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C} (column-major; C is m×n) with fp32 accumulation
     * ({@code CUBLAS_COMPUTE_32F}) and the default algorithm; A, B and C all of {@code type}.
     */
    public void gemm(MemorySegment handle, Op opA, Op opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                     float beta, long c, int ldc, DataType type) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphaPtr = arena.allocateFrom(JAVA_FLOAT, alpha), betaPtr = arena.allocateFrom(JAVA_FLOAT, beta);
            check(gemmEx, () -> (int) gemmEx.handle().invokeExact(handle, opA.ordinal(), opB.ordinal(), m, n, k, alphaPtr,
                    a, type.code, lda, b, type.code, ldb, betaPtr, c, type.code, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        }
    }

    @FunctionalInterface
    private interface Call {
        int invoke() throws Throwable;
    }

    private void check(Binder.Fn fn, Call call) {
        int status;
        try {
            status = call.invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (status != 0)
            throw new CuBlasException(fn.symbol(), status, text(statusName, status).orElse("CUBLAS_STATUS_" + status),
                    text(statusString, status).orElse(null));
    }

    // Both functions return static strings owned by the library.
    private static Optional<String> text(Optional<Binder.Fn> fn, int status) {
        return fn.map(f -> {
            try {
                MemorySegment s = (MemorySegment) f.handle().invokeExact(status);
                return s.equals(MemorySegment.NULL) ? null : s.reinterpret(4096).getString(0);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
    }
}
