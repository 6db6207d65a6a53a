package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.device.Devices;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code ./gatun bench}: every op on the best device (and on emu, whose figures are emulation, not
 * GPU figures), each row beside the machine's copy bandwidth measured in the same run.
 */
public final class BenchMain {
    private static final String USAGE = """
            usage: gatun bench [--device NAME]... [--quick] [--debug]

            Runs every kernel on the best device and on emu, and prints one row per op, dtype and
            device: median time, GB/s moved (bytes read + written), and that as a percentage of the
            copy bandwidth (read + write) measured in the same run.

              --device NAME   benchmark only this device (cuda, emu, cpu, cpu:x86-64-v3, cpu:avx512); repeatable
              --quick         fewer repetitions and smaller shapes
            """;

    private BenchMain() {}

    public static void main(String[] args) {
        boolean debug = false;
        try {
            List<String> devices = new ArrayList<>();
            boolean quick = false;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--help", "-h" -> {
                        System.out.print(USAGE);
                        return;
                    }
                    case "--quick" -> quick = true;
                    case "--debug" -> debug = true;
                    case "--device" -> {
                        if (i + 1 >= args.length) throw new IllegalArgumentException("--device needs a name (cuda, emu or cpu)");
                        devices.add(args[++i]);
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "' (see gatun bench --help)");
                }
            }
            run(devices, quick);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("gatun bench: " + e.getMessage());
            if (debug) e.printStackTrace();
            System.exit(2);
        }
    }

    private static void run(List<String> names, boolean quick) {
        Set<Device> devices = new LinkedHashSet<>();
        if (names.isEmpty()) {
            devices.add(Devices.best());
            devices.add(Devices.get("emu"));
        } else {
            for (String name : names) devices.add(Devices.get(name));
        }
        int repetitions = quick ? 5 : 15;
        CopyBandwidth ceiling = CopyBandwidth.measure((CpuDevice) Devices.get("cpu"), repetitions);
        System.out.printf("Gatun bench, %s%n", java.time.LocalDate.now());
        System.out.printf("ceiling: host copy bandwidth %.1f GB/s (read + write, %s, median of %d)%n",
                ceiling.gigabytesPerSecond(), ceiling.description(), repetitions);
        List<OpBench.Row> rows = new ArrayList<>();
        for (Device device : devices) {
            System.out.printf("device: %s%s%n", device.description(),
                    device.kind() == DeviceKind.EMU ? "  [emulated: kernel logic on CPU fibers, not GPU figures]" : "");
            for (OpBench op : OpBench.all()) {
                for (OpBench.Row row : op.run(device, quick, repetitions)) {
                    System.err.printf("  %-8s %-5s %-5s done%n", row.op(), row.device(), row.dtype());
                    rows.add(row);
                }
            }
        }
        System.out.println();
        System.out.print(Table.render(rows, ceiling.gigabytesPerSecond()));
    }
}
