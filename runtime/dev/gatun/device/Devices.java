package dev.gatun.device;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Finds devices. {@link #best()} picks cuda when a GPU and driver work, else cpu, and logs one line
 * saying why; {@code GATUN_DEVICE} (or {@code -Dgatun.device}) names one instead, e.g. for tests.
 */
public final class Devices {
    private static final System.Logger LOG = System.getLogger("dev.gatun.device");
    private static final Map<String, Device> OPEN = new HashMap<>();
    private static Device best;

    private Devices() {}

    /** The device this process should use. */
    public static synchronized Device best() {
        if (best != null) return best;
        String named = Optional.ofNullable(System.getProperty("gatun.device")).orElse(System.getenv("GATUN_DEVICE"));
        String why;
        if (named != null && !named.isBlank()) {
            best = get(named);
            why = "named by GATUN_DEVICE/gatun.device";
        } else {
            Optional<String> cudaProblem = CudaDevice.unavailableReason();
            best = get(cudaProblem.isEmpty() ? "cuda" : "cpu");
            why = cudaProblem.map(p -> "cuda unavailable: " + p).orElse("a CUDA GPU is present");
        }
        LOG.log(System.Logger.Level.INFO, "Gatun device: {0} ({1})", best.description(), why);
        return best;
    }

    /**
     * The device named {@code spec}: {@code cuda}, {@code cuda:N}, {@code emu}, {@code cpu},
     * {@code cpu:x86-64-v3} or {@code cpu:avx512}. Opened once per process.
     */
    public static synchronized Device get(String spec) {
        String key = spec.trim().toLowerCase(java.util.Locale.ROOT);
        Device open = OPEN.get(key);
        if (open != null) return open;
        String[] parts = key.split(":", 2);
        String qualifier = parts.length > 1 ? parts[1] : null;
        Device device = switch (DeviceKind.parse(parts[0])) {
            case CUDA -> CudaDevice.open(qualifier == null ? 0 : ordinal(qualifier));
            case EMU -> {
                if (qualifier != null) throw new IllegalArgumentException("emu takes no qualifier: '" + spec + "'");
                yield EmuDevice.load(System.getProperty("gatun.emu.variant", "plain"));
            }
            case CPU -> CpuDevice.load(qualifier);
        };
        OPEN.put(key, device);
        return device;
    }

    /** Why the cuda device cannot run here, or empty when it can. */
    public static Optional<String> cudaUnavailableReason() { return CudaDevice.unavailableReason(); }

    private static int ordinal(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cuda device ordinal must be a number, not '" + text + "'");
        }
    }
}
