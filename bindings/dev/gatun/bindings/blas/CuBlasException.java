package dev.gatun.bindings.blas;

/**
 * A cuBLAS call returned a status other than {@code CUBLAS_STATUS_SUCCESS}; the message names
 * the symbol, the status name and cuBLAS's description of it.
 */
public final class CuBlasException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int status;

    public CuBlasException(String call, int status, String statusName, String description) {
        super(call + " failed: " + statusName + (description == null || description.isEmpty() ? "" : " (" + description + ")"));
        this.call = call;
        this.status = status;
    }

    /** The cuBLAS symbol that failed, e.g. {@code cublasGemmEx}. */
    public String call() { return call; }

    /** The {@code cublasStatus_t}. */
    public int status() { return status; }
}
