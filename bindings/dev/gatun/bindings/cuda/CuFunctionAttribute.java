package dev.gatun.bindings.cuda;

/**
 * {@code CUfunction_attribute} values (CUDA 13 {@code cuda.h}) for
 * {@link CudaDriver#funcGetAttribute} and {@link CudaDriver#funcSetAttribute}.
 */
public final class CuFunctionAttribute {

    private CuFunctionAttribute() {}

    /** Most threads a block of this kernel may have (limited by its registers). */
    public static final int MAX_THREADS_PER_BLOCK = 0;
    /** Static shared memory of the kernel, in bytes. */
    public static final int SHARED_SIZE_BYTES = 1;
    /** Local memory per thread, in bytes (non-zero means spills or stack arrays). */
    public static final int LOCAL_SIZE_BYTES = 3;
    /** Registers per thread. */
    public static final int NUM_REGS = 4;
    /** PTX virtual architecture the kernel was compiled for, e.g. 80. */
    public static final int PTX_VERSION = 5;
    /** Binary architecture of the loaded code, e.g. 90. */
    public static final int BINARY_VERSION = 6;
    /** Dynamic shared memory a launch may request; set it before launching with more than 48 KiB. */
    public static final int MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
}
