package dev.gatun.bench;

import dev.gatun.device.CpuDevice;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.device.Devices;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Locale;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code ./gatun bench}: every op on the best device (and on emu, whose figures are emulation, not
 * GPU figures), each row beside the machine's copy bandwidth measured in the same run.
 */
public final class BenchMain {
    private static final String USAGE = """
            usage: gatun bench [--device NAME]... [--op NAME]... [--quick] [--json FILE] [--plot DIR] [--debug]

            Runs every kernel on the best device and on emu, and prints one row per op, dtype and
            device: the median time, the rate (GB/s moved for row ops and decode, GFLOP/s for
            prefill) and that as a percentage of the machine's ceiling measured in the same run
            (copy bandwidth, read bandwidth, FMA peak; bf16 dot-product peak for the cpu's bf16
            prefill; on cuda the GPU's own), beside torch when installed (on the op's device).
            Each op runs at a few sizes (two with --quick); prefill also as the engines run a prompt,
            in chunks against the paged cache (rows "chunked").

              --device NAME   benchmark only this device (cuda, emu, cpu, cpu:x86-64-v3, cpu:avx512); repeatable
              --op NAME       benchmark only this op (softmax, rmsnorm, rowsum, linear, prefill (with
                              chunked), decode, video); repeatable
              --quick         fewer repetitions and smaller shapes
              --json FILE     also write the rows as JSON
              --plot DIR      also write PNG charts into DIR (created): rate vs size per op with its
                              ceiling and peer, % of ceiling per row, speed relative to the peer
            """;

    /** The ops --op selects, in the order the bench runs them: the row ops' own names, then attention's and video's. */
    static final List<String> OPS = Stream.concat(OpBench.all().stream().map(OpBench::name),
            Stream.of("linear", "prefill", "decode", "video")).toList();

    private BenchMain() {}

    /** The command line: devices and ops to run (empty: all), and where the rows go. */
    record Options(List<String> devices, Set<String> ops, boolean quick, Path json, Path plot, boolean help) {}

    static Options parse(String... args) {
        List<String> devices = new ArrayList<>();
        Set<String> ops = new LinkedHashSet<>();
        boolean quick = false, help = false;
        Path json = null, plot = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help", "-h" -> help = true;
                case "--quick" -> quick = true;
                case "--debug" -> {}  // read by main
                case "--json" -> json = Path.of(value(args, ++i, "--json needs a file name"));
                case "--plot" -> plot = Path.of(value(args, ++i, "--plot needs a folder name"));
                case "--device" -> devices.add(value(args, ++i, "--device needs a name (cuda, emu or cpu)"));
                case "--op" -> {
                    String op = value(args, ++i, "--op needs an op name (" + String.join(", ", OPS) + ")");
                    if (!OPS.contains(op)) throw new IllegalArgumentException("--op " + op + ": no such op (" + String.join(", ", OPS) + ")");
                    ops.add(op);
                }
                default -> throw new IllegalArgumentException("unknown option '" + args[i] + "' (see gatun bench --help)");
            }
        }
        return new Options(devices, ops.isEmpty() ? new LinkedHashSet<>(OPS) : ops, quick, json, plot, help);
    }

    private static String value(String[] args, int i, String missing) {
        if (i >= args.length) throw new IllegalArgumentException(missing);
        return args[i];
    }

    public static void main(String[] args) {
        boolean debug = Arrays.asList(args).contains("--debug");
        try {
            Options options = parse(args);
            if (options.help()) {
                System.out.print(USAGE);
                return;
            }
            Path plot = options.plot();
            if (plot != null && Files.exists(plot) && !Files.isDirectory(plot))
                throw new IllegalArgumentException("--plot " + plot + " is a file, not a folder");
            Set<Device> chosen = devices(options.devices());
            List<BenchRow> rows = run(chosen, options.ops(), options.quick());
            if (options.json() != null) Files.writeString(options.json(), Table.json(rows));
            if (plot != null) {
                String subtitle = chosen.stream().map(Device::description).collect(Collectors.joining("; ")) + "; " + LocalDate.now();
                for (Path file : BenchPlots.write(rows, subtitle, plot)) System.out.println("plot: " + file);
            }
        } catch (IllegalArgumentException | IllegalStateException | IOException | UncheckedIOException e) {
            System.err.println("gatun bench: " + e.getMessage());
            if (debug) e.printStackTrace();
            System.exit(2);
        }
    }

    private static Set<Device> devices(List<String> names) {
        Set<Device> devices = new LinkedHashSet<>();
        if (names.isEmpty()) {
            devices.add(Devices.best());
            devices.add(Devices.get("emu"));
        } else {
            for (String name : names) devices.add(Devices.get(name));
        }
        return devices;
    }

    private static List<BenchRow> run(Set<Device> devices, Set<String> ops, boolean quick) {
        int repetitions = quick ? 5 : 15;
        Ceilings ceilings = Ceilings.measure((CpuDevice) Devices.get("cpu"), repetitions);
        System.out.printf("Gatun bench, %s%n", LocalDate.now());
        System.out.printf("ceilings measured in this run (%s), per row and timed alternately with its op (and the torch peer's runs): "
                + "copy and read bandwidth over the bytes that op moves, the FMA peak (for the cpu's bf16 prefill: the peak of the "
                + "bf16 dot products its tiles run on, where they do; on cuda: the GPU's own, and its tensor-core MMA peak for "
                + "16-bit rows)%n", ceilings.description());
        List<BenchRow> rows = new ArrayList<>();
        for (Device device : devices) {
            System.out.printf("device: %s%s%n", device.description(), note(device));
            if (device instanceof CudaDevice cuda) System.out.printf("  linear without bias runs on: %s%n", cuda.gemmLibrary());
            for (OpBench op : OpBench.all()) if (ops.contains(op.name())) rows.addAll(progress(op.run(device, quick, repetitions, ceilings)));
            rows.addAll(progress(AttentionBench.run(device, ops, quick, repetitions, ceilings)));
            if (ops.contains("video")) rows.addAll(progress(VideoBench.run(device, quick, repetitions, ceilings)));
        }
        System.out.println();
        System.out.print(Table.render(rows));
        // the peaks each device's compute-bound rows stood beside (the CPU's for emu rows)
        rows.stream().filter(r -> r.ceilingName().endsWith("peak"))
                .collect(Collectors.groupingBy(r -> (r.device().equals("cuda") ? "cuda " : "") + r.ceilingName(), TreeMap::new,
                        Collectors.summarizingDouble(BenchRow::ceiling)))
                .forEach((peak, s) -> System.out.printf(Locale.ROOT, "%s measured beside the compute-bound rows: %.1f to %.1f GFLOP/s%n",
                        peak, s.getMin(), s.getMax()));
        return rows;
    }

    /** Figures that are not GPU figures say so. */
    private static String note(Device device) {
        if (device.kind() == DeviceKind.EMU) return "  [emulated: kernel logic on CPU fibers, not GPU figures]";
        if (emulated(device)) return "  [driver shim over cuemu: emulated, not GPU figures]";
        return "";
    }

    /** Whether kernels/ run emulated on {@code device} (emu, or cuda over the test driver shim): it gets small shapes. */
    static boolean emulated(Device device) {
        return device.kind() == DeviceKind.EMU || device.kind() == DeviceKind.CUDA && System.getProperty("gatun.cuda.library") != null;
    }

    private static List<BenchRow> progress(List<BenchRow> rows) {
        for (BenchRow r : rows) System.err.printf("  %-8s %-5s %-5s %s done%n", r.op(), r.device(), r.dtype(), r.shape());
        return rows;
    }
}
