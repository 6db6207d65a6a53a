package dev.gatun.bindings.cuda;

import java.util.Objects;
import java.util.Optional;

/**
 * The outcome of {@link CudaDriver#load()}: either a usable driver, or the reason there
 * is none (no library, missing symbols, {@code cuInit} failed, native access denied).
 *
 * @param available whether {@link #driver()} holds an initialised driver
 * @param reason    one line for a log: what was loaded, or why nothing could be
 * @param driver    the driver when available, else empty
 */
public record CudaAvailability(boolean available, String reason, Optional<CudaDriver> driver) {

    /** Checks that {@code available} and the presence of {@code driver} agree. */
    public CudaAvailability {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(driver, "driver");
        if (available != driver.isPresent()) {
            throw new IllegalArgumentException("available=" + available + " but driver present=" + driver.isPresent());
        }
    }

    static CudaAvailability of(CudaDriver driver, String reason) {
        return new CudaAvailability(true, reason, Optional.of(driver));
    }

    static CudaAvailability unavailable(String reason) {
        return new CudaAvailability(false, reason, Optional.empty());
    }

    /** The driver, or {@link IllegalStateException} carrying the reason when there is none. */
    public CudaDriver require() {
        return driver.orElseThrow(() -> new IllegalStateException("CUDA unavailable: " + reason));
    }
}
