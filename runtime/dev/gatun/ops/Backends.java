package dev.gatun.ops;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.EmuDevice;

/** Which implementation runs the ops on a device: the CPU library, or kernels/ through the launcher. */
final class Backends {
    private Backends() {}

    static Backend of(Device device) {
        return switch (device) {
            case CpuDevice cpu -> new CpuBackend(cpu);
            case EmuDevice emu -> new KernelBackend(emu, emu);
            case CudaDevice cuda -> new KernelBackend(cuda, cuda);
        };
    }
}
