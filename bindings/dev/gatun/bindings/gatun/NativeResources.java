package dev.gatun.bindings.gatun;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native files (shared libraries, fatbins) that travel inside the jar as resources.
 *
 * <p>Each resource folder holds an {@code INDEX} in sha256sum format written by native/build.sh.
 * The folder is extracted once to {@code <cache>/native/<hash of INDEX>/}, so a new build gets a
 * new folder and no install step or LD_LIBRARY_PATH is needed. The cache is
 * {@code -Dgatun.cache.dir}, else {@code $XDG_CACHE_HOME/gatun}, else {@code ~/.cache/gatun}.
 */
public final class NativeResources {
    /** Libraries and fatbins shipped with the jar. */
    public static final String MAIN = "dev/gatun/native/linux-x86_64";
    /** Sanitizer builds and deliberately wrong kernels, present only on the test classpath. */
    public static final String TEST = "dev/gatun/native-test/linux-x86_64";

    private static final Map<String, Optional<Path>> EXTRACTED = new ConcurrentHashMap<>();

    private NativeResources() {}

    /** The extracted folder of {@code resourceDir}, or empty when that folder is not on the classpath. */
    public static Optional<Path> folder(String resourceDir) {
        return EXTRACTED.computeIfAbsent(resourceDir, NativeResources::extract);
    }

    /** The extracted file {@code name} from the first of {@code resourceDirs} that has it. */
    public static Optional<Path> find(String name, String... resourceDirs) {
        for (String dir : resourceDirs) {
            Optional<Path> file = folder(dir).map(f -> f.resolve(name)).filter(Files::isRegularFile);
            if (file.isPresent()) return file;
        }
        return Optional.empty();
    }

    private static Optional<Path> extract(String resourceDir) {
        ClassLoader loader = NativeResources.class.getClassLoader();
        byte[] index;
        try (InputStream in = loader.getResourceAsStream(resourceDir + "/INDEX")) {
            if (in == null) return Optional.empty();
            index = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resourceDir + "/INDEX", e);
        }
        Path target = cacheDir().resolve("native").resolve(sha256(index).substring(0, 16));
        if (Files.isRegularFile(target.resolve(".complete"))) return Optional.of(target);
        try {
            Files.createDirectories(target.getParent());
            Path staging = Files.createTempDirectory(target.getParent(), ".staging-");
            for (String name : names(index)) {
                try (InputStream in = loader.getResourceAsStream(resourceDir + "/" + name)) {
                    if (in == null) throw new IOException("INDEX lists " + name + " but the resource is missing");
                    Files.copy(in, staging.resolve(name));
                }
            }
            Files.writeString(staging.resolve(".complete"), "");
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException
                     | java.nio.file.DirectoryNotEmptyException raced) {
                deleteTree(staging); // another process extracted the same content first
            }
            return Optional.of(target);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract Gatun's native files to " + target, e);
        }
    }

    private static List<String> names(byte[] index) {
        List<String> names = new ArrayList<>();
        for (String line : new String(index, StandardCharsets.UTF_8).split("\n")) {
            String[] parts = line.trim().split("\\s+", 2);
            if (parts.length == 2) names.add(parts[1].replaceFirst("^\\*", ""));
        }
        return names;
    }

    private static Path cacheDir() {
        String configured = System.getProperty("gatun.cache.dir");
        if (configured != null) return Path.of(configured);
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "gatun");
        return Path.of(System.getProperty("user.home"), ".cache", "gatun");
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
