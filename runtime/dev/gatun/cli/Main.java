package dev.gatun.cli;

import dev.gatun.device.CudaDevice;
import dev.gatun.device.Device;
import dev.gatun.device.DeviceKind;
import dev.gatun.device.Devices;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code gatun} command (every subcommand but {@code bench}, which the launcher sends to the
 * benchmark suite). A user's mistake gets one sentence and a non-zero exit; {@code --debug} shows
 * the stack trace.
 */
public final class Main {
    static final String USAGE = """
            usage: gatun <command> [options]

            commands:
              bench      run every kernel on the best device (and emu): time, rate, % of the measured ceiling, torch as peer
              devices    list Gatun's devices and whether each can run here
              generate   stream a model's continuation of a prompt: gatun generate --model DIR "prompt"
              serve      an OpenAI-compatible HTTP server for a model: gatun serve --model DIR
              serve-bench  serving benchmark at a Poisson request rate (TTFT, TPOT, ITL, throughput):
                         gatun serve-bench --model DIR|tiny  or  --url http://127.0.0.1:PORT
              video      denoise a latent video with a video DiT and write its frames: gatun video --model DIR|tiny
              help       show this help

            options for every command:
              --help     help for that command
              --debug    show stack traces on errors

            environment:
              GATUN_DEVICE=cuda|emu|cpu   use that device instead of the best one
            """;

    private Main() {}

    public static void main(String[] args) {
        List<String> rest = new ArrayList<>(List.of(args));
        boolean debug = rest.remove("--debug");
        try {
            System.exit(run(rest, System.out));
        } catch (IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            System.err.println("gatun: " + e.getMessage());
            if (debug) e.printStackTrace();
            System.exit(2);
        }
    }

    static int run(List<String> args, PrintStream out) {
        String command = args.isEmpty() ? "help" : args.getFirst();
        List<String> options = args.subList(Math.min(1, args.size()), args.size());
        return switch (command) {
            case "help", "--help", "-h" -> {
                out.print(USAGE);
                yield 0;
            }
            case "devices" -> devices(options, out);
            case "generate" -> GenerateCommand.run(options, out);
            case "serve" -> ServeCommand.run(options, out);
            case "video" -> VideoCommand.run(options, out);
            default -> throw new IllegalArgumentException("unknown command '" + command + "' (see gatun --help)");
        };
    }

    private static int devices(List<String> options, PrintStream out) {
        if (options.contains("--help")) {
            out.println("usage: gatun devices\n\nLists cuda, emu and cpu: what each is on this machine, or why it cannot run.");
            return 0;
        }
        if (!options.isEmpty()) throw new IllegalArgumentException("devices takes no arguments, got " + options);
        for (DeviceKind kind : DeviceKind.values()) {
            Optional<String> problem = kind == DeviceKind.CUDA ? Devices.cudaUnavailableReason() : Optional.empty();
            if (problem.isPresent()) {
                out.printf("%-5s unavailable: %s%n", kind.id(), problem.get());
                continue;
            }
            try {
                Device device = Devices.get(kind.id());
                out.printf("%-5s %s%n", kind.id(), device.description());
                if (device instanceof CudaDevice cuda) out.printf("%-5s GEMM: %s%n", "", cuda.gemmLibrary());
            } catch (RuntimeException e) {
                out.printf("%-5s unavailable: %s%n", kind.id(), e.getMessage());
            }
        }
        return 0;
    }
}
