package dev.gatun.testing;

import dev.gatun.bindings.gatun.EmuLibrary;
import dev.gatun.device.Devices;
import dev.gatun.device.EmuDevice;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes how often each emu kernel was launched in this JVM to
 * {@code ${gatun.launchCounts.dir}/<variant>-<pid>.counts}, one {@code kernel<TAB>count} line per
 * registered kernel, so the verify phase can merge the counts of every test JVM (plain, ASan,
 * TSan, and the child JVMs of the sanitizer tests).
 */
public final class LaunchCounts {
    private LaunchCounts() {}

    public static void write() {
        String dir = System.getProperty("gatun.launchCounts.dir");
        if (dir == null) return;
        EmuLibrary emu = ((EmuDevice) Devices.get("emu")).library();
        StringBuilder lines = new StringBuilder();
        for (String kernel : emu.kernelNames()) lines.append(kernel).append('\t').append(emu.launchCount(kernel)).append('\n');
        try {
            Path folder = Files.createDirectories(Path.of(dir));
            Files.writeString(folder.resolve(emu.variant() + "-" + ProcessHandle.current().pid() + ".counts"), lines);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
