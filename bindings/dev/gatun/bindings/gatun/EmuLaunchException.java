package dev.gatun.bindings.gatun;

/** A kernel launch that cuemu refused or that failed one of its checks (barrier, warp mask, trap). */
public final class EmuLaunchException extends RuntimeException {
    private final String kernel;
    private final int status;

    public EmuLaunchException(String kernel, int status, String message) {
        super(message == null || message.isBlank() ? "cuemu: launch of " + kernel + " failed (status " + status + ")" : message);
        this.kernel = kernel;
        this.status = status;
    }

    public String kernel() { return kernel; }

    public int status() { return status; }
}
