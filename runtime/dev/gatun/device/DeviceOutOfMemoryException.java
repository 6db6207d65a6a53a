package dev.gatun.device;

/** A device allocation that failed even after the allocator gave back its cached blocks. */
public final class DeviceOutOfMemoryException extends RuntimeException {
    public DeviceOutOfMemoryException(String message) { super(message); }
}
