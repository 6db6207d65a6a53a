package dev.gatun.io;

import dev.gatun.device.Device;
import dev.gatun.io.Safetensors.HostTensor;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writing, memory-mapped reading onto every device with dtype conversion, shards, and corrupt files. */
@Tag("device") // also runs in the cuda-shim execution (real CudaDevice code over cuemu)
class SafetensorsTest {
    @TempDir Path dir;

    static List<Device> devices() { return TestDevices.all(); }

    @ParameterizedTest(name = "round trip on {0}")
    @MethodSource("devices")
    void roundTripWithConversion(Device device) {
        Random random = Seeds.random("safetensors" + device);
        float[] values = Seeds.gaussian(random, 3 * 5 * 7, 1);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (DType d : List.of(DType.F32, DType.F16, DType.BF16)) tensors.put("w." + d, HostTensor.of(d, values, 3, 5, 7));
        tensors.put("ids", HostTensor.of(new int[] {1, -2, 3}, 3));
        tensors.put("longs", HostTensor.of(new long[] {1L << 40, -5}, 2));
        tensors.put("empty", HostTensor.of(DType.F32, new float[0], 0, 4));
        tensors.put("scalar", HostTensor.of(DType.F32, new float[] {2.5f}));
        Path file = dir.resolve("t.safetensors");
        Safetensors.write(file, tensors, Map.of("format", "pt"));
        try (Safetensors st = Safetensors.open(file)) {
            assertEquals(tensors.keySet(), st.names());
            assertEquals(Map.of("format", "pt"), st.metadata(file));
            for (DType stored : List.of(DType.F32, DType.F16, DType.BF16))
                for (DType target : List.of(DType.F32, DType.F16, DType.BF16))
                    try (Tensor t = st.load("w." + stored, device, target)) {
                        assertArrayEquals(new long[] {3, 5, 7}, t.shape());
                        assertEquals(target, t.dtype());
                        float[] got = t.toFloatArray();
                        for (int i = 0; i < values.length; i++)
                            assertEquals(target.round(stored.round(values[i])), got[i], 0, "element " + i + " " + stored + "->" + target + Seeds.replay());
                    }
            try (Tensor ids = st.load("ids", device); Tensor longs = st.load("longs", device); Tensor empty = st.load("empty", device);
                 Tensor scalar = st.load("scalar", device)) {
                assertArrayEquals(new int[] {1, -2, 3}, ids.toIntArray());
                assertArrayEquals(new long[] {1L << 40, -5}, longs.toLongArray());
                assertArrayEquals(new long[] {0, 4}, empty.shape());
                assertEquals(0, scalar.rank());
                assertEquals(2.5f, st.readFloats("scalar")[0]);
            }
            var e = assertThrows(IllegalArgumentException.class, () -> st.load("ids", device, DType.F32));
            assertTrue(e.getMessage().contains("ids") && e.getMessage().contains("int32"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> st.load("missing", device));
            assertTrue(e.getMessage().contains("missing") && e.getMessage().contains(file.getFileName().toString()), e.getMessage());
        }
    }

    /** A conversion larger than the loader's staging buffer (2^20 elements) lands every chunk at its offset. */
    @ParameterizedTest(name = "chunked conversion on {0}")
    @MethodSource("devices")
    void conversionLargerThanOneStagingBuffer(Device device) {
        float[] values = Seeds.gaussian(Seeds.random("safetensors-chunks"), (1 << 20) * 2 + 7, 1);
        Path file = dir.resolve("big.safetensors");
        Safetensors.write(file, Map.of("w", HostTensor.of(DType.BF16, values, values.length)), Map.of());
        try (Safetensors st = Safetensors.open(file); Tensor t = st.load("w", device, DType.F32)) {
            float[] got = t.toFloatArray();
            for (int i = 0; i < values.length; i++)
                if (got[i] != DType.BF16.round(values[i])) assertEquals(DType.BF16.round(values[i]), got[i], 0, "element " + i);
        }
    }

    @Test
    void shardedCheckpointWithIndex() throws Exception {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) tensors.put("layer." + i, HostTensor.of(DType.F32, new float[] {i, i + 0.5f, -i}, 3));
        List<Path> shards = Safetensors.writeSharded(dir, tensors, 24);
        assertEquals(3, shards.size());
        try (Safetensors st = Safetensors.openModel(dir)) {
            assertEquals(tensors.keySet(), Set.copyOf(st.names()));
            assertArrayEquals(new float[] {4, 4.5f, -4}, st.readFloats("layer.4"));
            assertEquals(shards.get(2).toAbsolutePath().normalize(), st.entry("layer.4").file());
        }
        // the index names a shard that does not hold the tensor
        String index = Files.readString(dir.resolve(Safetensors.INDEX_FILE));
        Files.writeString(dir.resolve(Safetensors.INDEX_FILE), index.replace("\"layer.4\" : \"model-00003-of-00003.safetensors\"",
                "\"layer.4\" : \"model-00001-of-00003.safetensors\""));
        var e = assertThrows(IllegalArgumentException.class, () -> Safetensors.openModel(dir));
        assertTrue(e.getMessage().contains("layer.4") && e.getMessage().contains("model-00001-of-00003")
                && e.getMessage().contains("no shard contains it"), e.getMessage());
        // an index naming a missing shard
        Files.writeString(dir.resolve(Safetensors.INDEX_FILE), index.replace("model-00003-of-00003", "model-00009-of-00009"));
        e = assertThrows(IllegalArgumentException.class, () -> Safetensors.openModel(dir));
        assertTrue(e.getMessage().contains("model-00009-of-00009") && e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void corruptFilesAreClearErrors() throws Exception {
        Path missing = dir.resolve("none.safetensors");
        var e = assertThrows(IllegalArgumentException.class, () -> Safetensors.open(missing));
        assertTrue(e.getMessage().contains("none.safetensors") && e.getMessage().contains("does not exist"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Safetensors.openModel(dir));
        assertTrue(e.getMessage().contains("no checkpoint"), e.getMessage());

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        e = assertThrows(IllegalArgumentException.class, () -> Safetensors.open(tiny));
        assertTrue(e.getMessage().contains("tiny.safetensors") && e.getMessage().contains("truncated"), e.getMessage());

        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 1000));
        e = assertThrows(IllegalArgumentException.class, () -> Safetensors.open(truncated));
        assertTrue(e.getMessage().contains("truncated.safetensors") && e.getMessage().contains("truncated header"), e.getMessage());

        assertBad("outside", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "w", "outside");
        assertBad("dtype", "{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "w", "F64");
        assertBad("mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "w", "needs 12 bytes");
        assertBad("json", "{\"w\":", 8, "", "JSON");
        assertBad("negative", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "w", "non-negative");
    }

    private void assertBad(String name, String header, int dataBytes, String tensor, String message) throws Exception {
        Path f = dir.resolve(name + ".safetensors");
        Files.write(f, file(header, dataBytes, -1));
        var e = assertThrows(IllegalArgumentException.class, () -> Safetensors.open(f));
        assertTrue(e.getMessage().contains(f.getFileName().toString()) && e.getMessage().contains(tensor) && e.getMessage().contains(message),
                e.getMessage());
    }

    /** A file with the given header and data bytes; {@code claimedLength} >= 0 overrides the header length field. */
    private static byte[] file(String header, int dataBytes, long claimedLength) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(claimedLength >= 0 ? claimedLength : h.length).put(h);
        return b.array();
    }
}
