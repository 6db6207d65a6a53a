package dev.gatun.device;

import java.util.Locale;

/** The three kinds of device: a GPU through the driver, the CUDA source on cuemu, fast CPU code. */
public enum DeviceKind {
    /** kernels/ compiled by nvcc, launched through libcuda.so.1. */
    CUDA,
    /** the same kernels/ source compiled by g++ against cuemu: checks kernel logic without a GPU. */
    EMU,
    /** vectorized, multi-threaded CPU implementations of every op: the default without a GPU. */
    CPU;

    /** The lower-case name used in GATUN_DEVICE, flags and reports. */
    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static DeviceKind parse(String name) {
        for (DeviceKind kind : values()) if (kind.id().equals(name.trim().toLowerCase(Locale.ROOT))) return kind;
        throw new IllegalArgumentException("unknown device '" + name + "': expected cuda, emu or cpu");
    }
}
