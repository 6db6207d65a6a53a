package dev.gatun.device;

import dev.gatun.bindings.blas.CuBlas;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The cuBLAS GEMM of one {@link CudaDevice}: the library loaded once per process, one handle per
 * device created on first use, ordered on the device's default stream. Property
 * {@code gatun.cuda.gemm}: {@code auto} (default: cuBLAS when it loads), {@code kernels} (always
 * kernels/gemm.cuh), {@code cublas} (cuBLAS or the device refuses to open, saying why).
 */
public final class CudaGemm {
    /** System property choosing the GEMM library of the cuda device. */
    public static final String PROPERTY = "gatun.cuda.gemm";
    private static CuBlas.Availability availability;

    private final CudaDevice device;
    private final CuBlas blas;
    private MemorySegment handle;
    private String version;

    private CudaGemm(CudaDevice device, CuBlas blas) {
        this.device = device;
        this.blas = blas;
    }

    private static synchronized CuBlas.Availability availability() {
        if (availability == null) availability = CuBlas.load();
        return availability;
    }

    /** cuBLAS for {@code device} as the property asks, or empty with the reason in {@code why[0]}. */
    static Optional<CudaGemm> choose(CudaDevice device, String[] why) {
        String choice = System.getProperty(PROPERTY, "auto");
        switch (choice) {
            case "kernels" -> {
                why[0] = "-D" + PROPERTY + "=kernels";
                return Optional.empty();
            }
            case "auto", "cublas" -> {
                CuBlas.Availability a = availability();
                if (a.available()) return Optional.of(new CudaGemm(device, a.library().orElseThrow()));
                if (choice.equals("cublas"))
                    throw new IllegalStateException("-D" + PROPERTY + "=cublas but cuBLAS cannot be used: " + a.reason());
                why[0] = a.reason();
                return Optional.empty();
            }
            default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + choice + ": expected auto, cublas or kernels");
        }
    }

    /** What runs: e.g. {@code cuBLAS 13.0.0 (libcublas.so.13, cublasGemmEx)}; creates the handle. */
    public synchronized String describe() {
        handle();
        return "cuBLAS " + version + " (" + blas.library() + ", cublasGemmEx)";
    }

    private MemorySegment handle() {
        if (handle == null) {
            device.guarded(() -> {
                MemorySegment h = blas.create();
                blas.setStream(h, device.handle(device.defaultStream()));
                int v = blas.version(h);
                version = v / 10000 + "." + v / 100 % 100 + "." + v % 100;
                handle = h;
            });
        }
        return handle;
    }

    /**
     * Row-major {@code y[m, n] = x[m, k] · w[n, k]ᵀ} on the default stream: as column-major
     * matrices this is {@code yᵀ = op(w)·xᵀ} with w transposed, so no data moves.
     */
    public void linear(long x, long xRowStride, long w, long y, long yRowStride, int m, int n, int k, CuBlas.DataType type) {
        MemorySegment h;
        synchronized (this) {
            h = handle();
        }
        device.guarded(() -> blas.gemm(h, CuBlas.Op.T, CuBlas.Op.N, n, m, k, 1f, w, k, x, Math.toIntExact(xRowStride), 0f, y,
                Math.toIntExact(yRowStride), type));
    }
}
