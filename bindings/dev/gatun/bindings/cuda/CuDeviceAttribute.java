package dev.gatun.bindings.cuda;

/**
 * {@code CUdevice_attribute} values (CUDA 13 {@code cuda.h}) for
 * {@link CudaDriver#deviceAttribute(int, int)}: the ones Gatun sizes launches and
 * computes ceilings with.
 */
public final class CuDeviceAttribute {

    private CuDeviceAttribute() {}

    /** Maximum threads per block. */
    public static final int MAX_THREADS_PER_BLOCK = 1;
    /** Shared memory per block without opt-in, in bytes (48 KiB). */
    public static final int MAX_SHARED_MEMORY_PER_BLOCK = 8;
    /** Warp size in threads. */
    public static final int WARP_SIZE = 10;
    /** 32-bit registers available per block. */
    public static final int MAX_REGISTERS_PER_BLOCK = 12;
    /** Typical SM clock in kHz. */
    public static final int CLOCK_RATE = 13;
    /** Number of multiprocessors. */
    public static final int MULTIPROCESSOR_COUNT = 16;
    /** Peak memory clock in kHz. */
    public static final int MEMORY_CLOCK_RATE = 36;
    /** Global memory bus width in bits. */
    public static final int GLOBAL_MEMORY_BUS_WIDTH = 37;
    /** L2 cache size in bytes. */
    public static final int L2_CACHE_SIZE = 38;
    /** Maximum resident threads per multiprocessor. */
    public static final int MAX_THREADS_PER_MULTIPROCESSOR = 39;
    /** Compute capability, major. */
    public static final int COMPUTE_CAPABILITY_MAJOR = 75;
    /** Compute capability, minor. */
    public static final int COMPUTE_CAPABILITY_MINOR = 76;
    /** Shared memory per multiprocessor in bytes. */
    public static final int MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81;
    /** 32-bit registers per multiprocessor. */
    public static final int MAX_REGISTERS_PER_MULTIPROCESSOR = 82;
    /** Shared memory per block with opt-in ({@link CuFunctionAttribute#MAX_DYNAMIC_SHARED_SIZE_BYTES}), in bytes. */
    public static final int MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
}
