package dev.gatun.bench.serve;

import dev.gatun.llm.LlamaConfig;
import dev.gatun.llm.RandomLlama;
import dev.gatun.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;

/**
 * {@code --model tiny}: {@link RandomLlama#TINY} written into a temporary folder, for measuring the
 * engine's serving path when no real model is at hand. Its figures are the engine's overheads and
 * a small model's compute, not a real model's.
 */
final class TinyModel {
    static final LlamaConfig CONFIG = RandomLlama.TINY;

    private TinyModel() {}

    /** Writes the model into a new temporary folder and returns it; {@link #delete} removes it. */
    static Path write(long seed) {
        try {
            Path dir = Files.createTempDirectory("gatun-tiny-llama-");
            return RandomLlama.write(dir, CONFIG, RandomLlama.weights(CONFIG, new Random(seed)), DType.F32, 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tiny model: " + e.getMessage(), e);
        }
    }

    static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the tiny model in " + dir + ": " + e.getMessage(), e);
        }
    }
}
