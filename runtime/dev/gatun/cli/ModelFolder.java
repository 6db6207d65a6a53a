package dev.gatun.cli;

import dev.gatun.io.TemporaryFolder;
import dev.gatun.llm.RandomLlama;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code --model} of generate and serve: a Llama-family model folder, or {@code tiny}, a
 * random-weight test model ({@link RandomLlama#TINY}) written to a temporary folder that close
 * deletes, for trying the commands without weights (its text is noise).
 */
record ModelFolder(Path path, TemporaryFolder temporary) implements AutoCloseable {
    /** Fails with the command's usage hint when no --model was given. */
    static void require(String command, String model) {
        if (model == null)
            throw new IllegalArgumentException(command + ": --model DIR is required (or --model tiny; see gatun " + command + " --help)");
    }

    static ModelFolder of(String command, String model, long seed) {
        require(command, model);
        if (model.equals("tiny")) {
            TemporaryFolder folder = RandomLlama.writeTiny(seed);
            return new ModelFolder(folder.path(), folder);
        }
        Path dir = Path.of(model);
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(command + ": model folder " + dir + " does not exist or is not a folder");
        if (!Files.exists(dir.resolve("config.json"))) throw new IllegalArgumentException(command + ": " + dir + " has no config.json: not a model folder");
        return new ModelFolder(dir, null);
    }

    /** The model's name for the API: "tiny", or the folder's name. */
    String name() { return temporary != null ? "tiny" : path.toAbsolutePath().normalize().getFileName().toString(); }

    @Override
    public void close() {
        if (temporary != null) temporary.close();
    }
}
