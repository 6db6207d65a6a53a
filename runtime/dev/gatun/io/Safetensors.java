package dev.gatun.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gatun.device.Device;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format:
 * an 8-byte little-endian header length N, N bytes of JSON ({@code {name: {dtype, shape,
 * data_offsets: [begin, end]}}}, offsets relative to the byte after the header; an optional
 * {@code __metadata__} entry of strings), then the raw little-endian tensor bytes.
 *
 * <p>Files are memory-mapped read-only through FFM ({@link FileChannel#map(FileChannel.MapMode,
 * long, long, Arena)}); tensors are copied straight from the mapping to the device, never through
 * the Java heap. A checkpoint may be one file or shards listed by {@code model.safetensors.index.json}
 * ({@code weight_map: {name: file}}): {@link #openModel(Path)} handles both. Every header is
 * validated when it is opened (dtype, shape, offsets inside the file, byte count = shape × dtype
 * size), and every error names the file and the tensor. Close the reader to unmap the files.
 */
public final class Safetensors implements AutoCloseable {
    /** The single-file checkpoint name and the shard index name used by Hugging Face. */
    public static final String SINGLE_FILE = "model.safetensors", INDEX_FILE = "model.safetensors.index.json";
    /** Headers beyond this are rejected as corrupt (the reference implementation uses 100 MB). */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor of a checkpoint: where its bytes are in which file. */
    public record Entry(String name, DType dtype, long[] shape, Path file, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }

        public long byteSize() { return end - begin; }

        @Override public long[] shape() { return shape.clone(); }

        @Override public String toString() { return name + " " + dtype + " " + Arrays.toString(shape) + " in " + file; }
    }

    private final Arena arena = Arena.ofShared();
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<Path, MemorySegment> data = new LinkedHashMap<>();
    private final Map<Path, Map<String, String>> metadata = new LinkedHashMap<>();
    private boolean closed;

    private Safetensors() {}

    /** Opens one .safetensors file. */
    public static Safetensors open(Path file) {
        Safetensors s = new Safetensors();
        try {
            s.map(file);
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /**
     * Opens the checkpoint in a model folder: the shards named by {@value #INDEX_FILE} if present,
     * else {@value #SINGLE_FILE}, else the folder's only {@code .safetensors} file.
     */
    public static Safetensors openModel(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("model folder " + dir + " does not exist or is not a folder");
        Path index = dir.resolve(INDEX_FILE);
        if (Files.exists(index)) return openIndex(index);
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.exists(single)) return open(single);
        List<Path> found;
        try (var files = Files.list(dir)) {
            found = files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        if (found.size() == 1) return open(found.get(0));
        throw new IllegalArgumentException("no checkpoint in " + dir + ": expected " + SINGLE_FILE + " or " + INDEX_FILE
                + (found.isEmpty() ? "" : " (found " + found.size() + " .safetensors files without an index)"));
    }

    /** Opens the shards listed by a {@code model.safetensors.index.json}, checking each tensor is where the index says. */
    public static Safetensors openIndex(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read shard index " + index + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject())
            throw new IllegalArgumentException("shard index " + index + " has no \"weight_map\" object");
        Path dir = index.toAbsolutePath().getParent();
        Map<String, Path> wanted = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual())
                throw new IllegalArgumentException("shard index " + index + ": tensor " + e.getKey() + " maps to " + e.getValue() + ", expected a file name");
            Path shard = dir.resolve(e.getValue().asText()).normalize();
            if (!shard.startsWith(dir.normalize()))
                throw new IllegalArgumentException("shard index " + index + ": tensor " + e.getKey() + " names a file outside the folder: " + e.getValue().asText());
            wanted.put(e.getKey(), shard);
        }
        Safetensors s = new Safetensors();
        try {
            for (Path shard : new java.util.LinkedHashSet<>(wanted.values())) s.map(shard);
            for (Map.Entry<String, Path> e : wanted.entrySet()) {
                Entry entry = s.entries.get(e.getKey());
                if (entry == null || !entry.file().equals(e.getValue()))
                    throw new IllegalArgumentException("shard index " + index + " puts tensor " + e.getKey() + " in " + e.getValue()
                            + (entry == null ? ", but no shard contains it" : ", but it is in " + entry.file()));
            }
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void map(Path file) {
        file = file.toAbsolutePath().normalize();
        MemorySegment whole;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("safetensors file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map safetensors file " + file, e);
        }
        long size = whole.byteSize();
        if (size < 8) throw new IllegalArgumentException(file + ": truncated safetensors file (" + size + " bytes, no header length)");
        long headerLength = whole.get(I64, 0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES)
            throw new IllegalArgumentException(file + ": header length " + headerLength + " is not plausible (corrupt or not a safetensors file)");
        if (8 + headerLength > size)
            throw new IllegalArgumentException(file + ": truncated header: it claims " + headerLength + " bytes but the file has only "
                    + (size - 8) + " after the length");
        byte[] headerBytes = whole.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) throw new IllegalArgumentException(file + ": header is not a JSON object");
        MemorySegment bytes = whole.asSlice(8 + headerLength);
        long dataSize = bytes.byteSize();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode info = field.getValue();
            if (name.equals("__metadata__")) {
                Map<String, String> meta = new LinkedHashMap<>();
                if (info.isObject()) info.fields().forEachRemaining(m -> meta.put(m.getKey(), m.getValue().asText()));
                metadata.put(file, meta);
                continue;
            }
            String where = "tensor '" + name + "' in " + file;
            if (!info.isObject()) throw new IllegalArgumentException(where + ": header entry is not an object");
            DType dtype = parseDType(info.path("dtype").asText(null), where);
            JsonNode shapeNode = info.get("shape"), offsets = info.get("data_offsets");
            if (shapeNode == null || !shapeNode.isArray()) throw new IllegalArgumentException(where + ": missing \"shape\" array");
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0)
                    throw new IllegalArgumentException(where + ": shape " + shapeNode + " must hold non-negative integers");
                shape[i] = d.asLong();
            }
            if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber())
                throw new IllegalArgumentException(where + ": \"data_offsets\" must be [begin, end], got " + offsets);
            long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
            if (begin < 0 || end < begin || end > dataSize)
                throw new IllegalArgumentException(where + ": data_offsets [" + begin + ", " + end + ") lie outside the file's "
                        + dataSize + " data bytes (truncated or corrupt file)");
            Entry entry = new Entry(name, dtype, shape, file, begin, end);
            long expected;
            try {
                expected = Math.multiplyExact(entry.numel(), dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(where + ": shape " + Arrays.toString(shape) + " overflows");
            }
            if (end - begin != expected)
                throw new IllegalArgumentException(where + ": shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expected
                        + " bytes but data_offsets [" + begin + ", " + end + ") hold " + (end - begin));
            Entry previous = entries.putIfAbsent(name, entry);
            if (previous != null)
                throw new IllegalArgumentException("tensor '" + name + "' appears in both " + previous.file() + " and " + file);
        }
        data.put(file, bytes);
    }

    private static DType parseDType(String code, String where) {
        if (code == null) throw new IllegalArgumentException(where + ": missing \"dtype\"");
        return switch (code) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            case "I32" -> DType.I32;
            case "I64" -> DType.I64;
            default -> throw new IllegalArgumentException(where + ": unsupported dtype \"" + code + "\" (supported: F32, F16, BF16, I32, I64)");
        };
    }

    /** The safetensors dtype code of a {@link DType}. */
    public static String code(DType dtype) {
        return switch (dtype) {
            case F32 -> "F32";
            case F16 -> "F16";
            case BF16 -> "BF16";
            case I32 -> "I32";
            case I64 -> "I64";
        };
    }

    // ---- reading ----

    /** Tensor names, in file order. */
    public Set<String> names() { return Collections.unmodifiableSet(entries.keySet()); }

    public boolean contains(String name) { return entries.containsKey(name); }

    /** The entry of {@code name}; an exception naming the checkpoint if it is absent. */
    public Entry entry(String name) {
        requireOpen();
        Entry e = entries.get(name);
        if (e == null) throw new IllegalArgumentException("tensor '" + name + "' is not in " + describeFiles());
        return e;
    }

    /** The {@code __metadata__} of a file (empty if it has none). */
    public Map<String, String> metadata(Path file) {
        return metadata.getOrDefault(file.toAbsolutePath().normalize(), Map.of());
    }

    /** The mapped bytes of {@code name} (read-only, valid until {@link #close()}). */
    public MemorySegment bytes(String name) {
        Entry e = entry(name);
        return data.get(e.file()).asSlice(e.begin(), e.byteSize());
    }

    /** A new device tensor holding {@code name} in its stored dtype. */
    public Tensor load(String name, Device device) {
        return load(name, device, entry(name).dtype());
    }

    /**
     * A new device tensor holding {@code name} converted to {@code dtype} (fp32, fp16 and bf16
     * convert into one another, rounding to nearest even; integer types must match). The stored
     * dtype is copied from the mapping directly; a conversion goes through an off-heap buffer.
     */
    public Tensor load(String name, Device device, DType dtype) {
        Entry e = entry(name);
        requireConvertible(e, dtype);
        Tensor t = Tensor.empty(device, dtype, e.shape());
        try {
            copyInto(name, t);
            return t;
        } catch (RuntimeException ex) {
            t.close();
            throw ex;
        }
    }

    /**
     * Copies {@code name} into an existing contiguous device tensor of the same shape (e.g. a slice
     * of a fused weight), converting between fp32, fp16 and bf16 to the target's dtype.
     */
    public void copyInto(String name, Tensor target) {
        Entry e = entry(name);
        DType dtype = target.dtype();
        requireConvertible(e, dtype);
        if (!Arrays.equals(e.shape, target.shape()))
            throw new IllegalArgumentException("tensor '" + name + "' in " + e.file() + " has shape " + Arrays.toString(e.shape)
                    + ", expected " + Arrays.toString(target.shape()));
        if (!target.isContiguous()) throw new IllegalArgumentException("copyInto: the target of '" + name + "' must be contiguous");
        Device device = target.device();
        MemorySegment src = bytes(name);
        long n = e.numel();
        if (n == 0) return;
        if (e.dtype() == dtype) {
            device.copyFromHost(src, target.dataAddress(), e.byteSize(), device.defaultStream());
            return;
        }
        long chunk = 1L << 20; // elements converted per staging buffer
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment buffer = staging.allocate(Math.min(n, chunk) * dtype.byteSize(), 16);
            for (long start = 0; start < n; start += chunk) {
                long count = Math.min(chunk, n - start);
                for (long i = 0; i < count; i++) putFloat(buffer, dtype, i, getFloat(src, e.dtype(), start + i));
                device.copyFromHost(buffer, target.dataAddress() + start * dtype.byteSize(), count * dtype.byteSize(), device.defaultStream());
            }
            device.synchronize(); // the staging buffer dies with the arena
        }
    }

    private static void requireConvertible(Entry e, DType dtype) {
        if (e.dtype() != dtype && !(e.dtype().isFloatingPoint() && dtype.isFloatingPoint()))
            throw new IllegalArgumentException("tensor '" + e.name() + "' in " + e.file() + " is " + e.dtype() + " and cannot be converted to " + dtype);
    }

    /** The values of a floating-point tensor as fp32, on the heap (for tests and small tensors). */
    public float[] readFloats(String name) {
        Entry e = entry(name);
        if (!e.dtype().isFloatingPoint()) throw new IllegalArgumentException("tensor '" + name + "' in " + e.file() + " is " + e.dtype() + ", not floating point");
        MemorySegment src = bytes(name);
        float[] out = new float[Math.toIntExact(e.numel())];
        for (int i = 0; i < out.length; i++) out[i] = getFloat(src, e.dtype(), i);
        return out;
    }

    static float getFloat(MemorySegment s, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> s.getAtIndex(F32, i);
            case F16 -> Float.float16ToFloat(s.getAtIndex(I16, i));
            case BF16 -> DType.bf16ToFloat(s.getAtIndex(I16, i));
            default -> throw new AssertionError(dtype);
        };
    }

    static void putFloat(MemorySegment s, DType dtype, long i, float v) {
        switch (dtype) {
            case F32 -> s.setAtIndex(F32, i, v);
            case F16 -> s.setAtIndex(I16, i, Float.floatToFloat16(v));
            case BF16 -> s.setAtIndex(I16, i, DType.floatToBf16(v));
            default -> throw new AssertionError(dtype);
        }
    }

    private String describeFiles() {
        return data.size() == 1 ? data.keySet().iterator().next().toString() : "the " + data.size() + " shards " + data.keySet();
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("safetensors reader used after close()");
    }

    /** Unmaps the files. Tensors already loaded stay valid. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    // ---- writing ----

    /** A host tensor to write: dtype, shape and its little-endian bytes. */
    public record HostTensor(DType dtype, long[] shape, byte[] bytes) {
        public HostTensor {
            long n = 1;
            for (long d : shape) {
                if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                n = Math.multiplyExact(n, d);
            }
            if (bytes.length != n * dtype.byteSize())
                throw new IllegalArgumentException(Arrays.toString(shape) + " of " + dtype + " needs " + n * dtype.byteSize() + " bytes, got " + bytes.length);
            shape = shape.clone();
        }

        /** {@code values} rounded to a floating-point {@code dtype}. */
        public static HostTensor of(DType dtype, float[] values, long... shape) {
            if (!dtype.isFloatingPoint()) throw new IllegalArgumentException(dtype + " is not floating point");
            MemorySegment s = MemorySegment.ofArray(new byte[values.length * dtype.byteSize()]);
            for (int i = 0; i < values.length; i++) putFloat(s, dtype, i, values[i]);
            return new HostTensor(dtype, shape, s.toArray(ValueLayout.JAVA_BYTE));
        }

        public static HostTensor of(int[] values, long... shape) {
            MemorySegment s = MemorySegment.ofArray(new byte[values.length * 4]);
            for (int i = 0; i < values.length; i++) s.setAtIndex(I32, i, values[i]);
            return new HostTensor(DType.I32, shape, s.toArray(ValueLayout.JAVA_BYTE));
        }

        public static HostTensor of(long[] values, long... shape) {
            MemorySegment s = MemorySegment.ofArray(new byte[values.length * 8]);
            for (int i = 0; i < values.length; i++) s.setAtIndex(I64, i, values[i]);
            return new HostTensor(DType.I64, shape, s.toArray(ValueLayout.JAVA_BYTE));
        }

        @Override public long[] shape() { return shape.clone(); }
    }

    /** Writes {@code tensors} (in map order) to one file, with optional string metadata. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> meta) {
        ObjectNode header = JSON.createObjectNode();
        if (meta != null && !meta.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            meta.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
            HostTensor t = e.getValue();
            ObjectNode info = header.putObject(e.getKey());
            info.put("dtype", code(t.dtype()));
            ArrayNode shape = info.putArray("shape");
            for (long d : t.shape) shape.add(d);
            ArrayNode offsets = info.putArray("data_offsets");
            offsets.add(offset);
            offset += t.bytes().length;
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) / 8 * 8; // data starts 8-byte aligned, as the reference writer does
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
            writeFully(out, length);
            writeFully(out, java.nio.ByteBuffer.wrap(headerBytes));
            for (HostTensor t : tensors.values()) writeFully(out, java.nio.ByteBuffer.wrap(t.bytes()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /**
     * Writes {@code tensors} into {@code dir} as shards of at most about {@code maxShardBytes} each
     * ({@code model-00001-of-0000N.safetensors}) plus {@value #INDEX_FILE}; returns the shard paths.
     */
    public static List<Path> writeSharded(Path dir, Map<String, HostTensor> tensors, long maxShardBytes) {
        if (maxShardBytes < 1) throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        List<Map<String, HostTensor>> shards = new ArrayList<>();
        Map<String, HostTensor> current = new LinkedHashMap<>();
        long size = 0, total = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            long bytes = e.getValue().bytes().length;
            if (!current.isEmpty() && size + bytes > maxShardBytes) {
                shards.add(current);
                current = new LinkedHashMap<>();
                size = 0;
            }
            current.put(e.getKey(), e.getValue());
            size += bytes;
            total += bytes;
        }
        if (!current.isEmpty() || shards.isEmpty()) shards.add(current);
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        List<Path> paths = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                Path path = dir.resolve(name);
                write(path, shards.get(i), Map.of("format", "pt"));
                for (String tensor : shards.get(i).keySet()) weightMap.put(tensor, name);
                paths.add(path);
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(INDEX_FILE).toFile(), index);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the sharded checkpoint in " + dir, e);
        }
        return paths;
    }

    private static void writeFully(FileChannel out, java.nio.ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) out.write(buffer);
    }
}
