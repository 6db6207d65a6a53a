package dev.gatun.testing;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.device.Devices;
import dev.gatun.ops.Attention;

import org.junit.jupiter.api.Assumptions;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The devices a test run covers, from {@code -Dgatun.test.devices} (e.g. {@code emu,cpu}; the
 * sanitizer suites use {@code emu}; a GPU run adds {@code cuda}). {@code cpu} expands to both CPU
 * builds when this machine can run the AVX-512 one. {@code -Dgatun.test.scale=small} asks for the
 * smallest shapes that still cover every branch (for the ASan and TSan builds).
 */
public final class TestDevices {
    private TestDevices() {}

    public static List<Device> all() {
        List<Device> devices = new ArrayList<>();
        for (String name : System.getProperty("gatun.test.devices", "emu,cpu").split(",")) {
            name = name.trim();
            if (name.isEmpty()) continue;
            if (name.equals("cpu")) {
                devices.add(Devices.get("cpu:" + CpuDevice.ISA_V3));
                Device best = Devices.get("cpu");
                if (best.description().startsWith("cpu: " + CpuDevice.ISA_AVX512)) devices.add(best);
            } else {
                if (name.startsWith("cuda")) CudaShim.install(); // no-op on a real GPU
                devices.add(Devices.get(name));
            }
        }
        return devices;
    }

    /** The CPU builds this run covers; skips the calling test where there are none (the emu-only suites). */
    public static List<CpuDevice> cpus() {
        List<CpuDevice> cpus = all().stream().filter(d -> d instanceof CpuDevice).map(d -> (CpuDevice) d).toList();
        Assumptions.assumeFalse(cpus.isEmpty(), "this run has no cpu device (-Dgatun.test.devices)");
        return cpus;
    }

    public static boolean small() {
        return "small".equals(System.getProperty("gatun.test.scale"));
    }

    /** KV block sizes to test paged kernels with on {@code device}: 16, and the engines' size there where it differs. */
    public static int[] kvBlockSizes(Device device) {
        return IntStream.of(16, Attention.preferredBlockSize(device)).distinct().toArray();
    }
}
