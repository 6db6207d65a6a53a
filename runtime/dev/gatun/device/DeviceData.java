package dev.gatun.device;

/** Something that lives in device memory and can be passed to a kernel as a pointer. */
public interface DeviceData {
    Device device();

    /** Device address of the first element. */
    long dataAddress();
}
