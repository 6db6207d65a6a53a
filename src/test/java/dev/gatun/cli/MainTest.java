package dev.gatun.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    private static String run(String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        assertEquals(0, Main.run(List.of(args), new PrintStream(bytes, true)));
        return bytes.toString();
    }

    @Test
    void helpListsBenchAndTheCliCommands() {
        String help = run("--help");
        assertTrue(help.contains("bench") && help.contains("devices"), help);
    }

    @Test
    void devicesSaysWhatEachIs() {
        String out = run("devices");
        assertTrue(out.contains("cpu ") && out.contains("emu ") && out.contains("cuda "), out);
    }

    @Test
    void unknownCommandsAreOneSentence() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Main.run(List.of("frobnicate"), System.out));
        assertTrue(e.getMessage().contains("unknown command 'frobnicate'"), e.getMessage());
    }
}
