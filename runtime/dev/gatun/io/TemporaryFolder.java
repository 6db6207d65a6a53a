package dev.gatun.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** A new folder under the system's temporary directory, deleted with everything in it on close. */
public final class TemporaryFolder implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(TemporaryFolder.class.getName());
    private final Path path;

    private TemporaryFolder(Path path) { this.path = path; }

    /** Creates the folder, named {@code prefix} and a unique suffix. */
    public static TemporaryFolder create(String prefix) {
        try {
            return new TemporaryFolder(Files.createTempDirectory(prefix));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder: " + e.getMessage(), e);
        }
    }

    public Path path() { return path; }

    /** Deletes the folder (again: nothing); one that cannot be deleted is logged, not thrown: a leftover is not worth failing a command for. */
    @Override
    public void close() {
        if (Files.notExists(path)) return; // closed before
        try (Stream<Path> files = Files.walk(path)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException | UncheckedIOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot delete the temporary folder " + path + ": " + e.getMessage());
        }
    }
}
