package dev.gatun.bindings.cuda;

/**
 * A CUDA driver call returned a status other than {@code CUDA_SUCCESS}.
 *
 * <p>The message names the driver symbol, the code's name and the driver's description,
 * e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)}, followed by
 * any detail the call produced (the JIT error log of a failed module load).
 */
public final class CudaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String call;
    private final int code;
    private final String codeName;

    /**
     * An exception for one failed call; {@link CudaDriver} builds these from the driver's own names.
     *
     * @param call        the driver symbol that failed, e.g. {@code cuMemAlloc_v2}
     * @param code        the {@code CUresult}
     * @param codeName    the code's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}
     * @param description the driver's description of the code, or {@code null} if unknown
     * @param detail      extra lines for the message, or {@code null}
     */
    public CudaException(String call, int code, String codeName, String description, String detail) {
        super(message(call, codeName, description, detail));
        this.call = call;
        this.code = code;
        this.codeName = codeName;
    }

    private static String message(String call, String codeName, String description, String detail) {
        StringBuilder sb = new StringBuilder(call).append(" failed: ").append(codeName);
        if (description != null && !description.isEmpty()) {
            sb.append(" (").append(description).append(')');
        }
        if (detail != null && !detail.isEmpty()) {
            sb.append('\n').append(detail);
        }
        return sb.toString();
    }

    /** The driver symbol that failed, e.g. {@code cuMemAlloc_v2}. */
    public String call() {
        return call;
    }

    /** The {@code CUresult} code. */
    public int code() {
        return code;
    }

    /** The code's name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String codeName() {
        return codeName;
    }

    /** Whether the error is sticky (see {@link CuResult#isSticky}): the context is lost. */
    public boolean isSticky() {
        return CuResult.isSticky(code);
    }
}
