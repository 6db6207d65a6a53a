package dev.gatun.io;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TemporaryFolderTest {
    @Test
    void closeDeletesTheFolderAndWhatItHoldsOnce() throws Exception {
        TemporaryFolder folder = TemporaryFolder.create("gatun-test-");
        Path dir = folder.path();
        assertTrue(Files.isDirectory(dir) && dir.getFileName().toString().startsWith("gatun-test-"), dir.toString());
        Files.writeString(Files.createDirectories(dir.resolve("a/b")).resolve("c.txt"), "x");
        Files.writeString(dir.resolve("d.txt"), "y");
        folder.close();
        assertFalse(Files.exists(dir));
        folder.close(); // again: nothing to do, no error
        assertFalse(Files.exists(dir));
    }
}
