package dev.gatun.tensor;

import dev.gatun.device.Device;
import dev.gatun.device.DeviceData;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * An n-dimensional array on a device: dtype, shape, strides and offset (both in elements) over a
 * shared {@link Storage}. Views ({@link #reshape}, {@link #slice}, {@link #transpose}) share memory
 * without copying; each tensor and each view is closed once, and the memory goes back to the
 * device's allocator when the last of them is closed.
 */
public final class Tensor implements DeviceData, AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final Storage storage;
    private final DType dtype;
    private final long[] shape, strides;
    private final long offset;
    private boolean closed;

    private Tensor(Storage storage, DType dtype, long[] shape, long[] strides, long offset) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    /** A new contiguous tensor with unspecified contents. */
    public static Tensor empty(Device device, DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        return new Tensor(new Storage(device, numel(dims) * dtype.byteSize()), dtype, dims, contiguousStrides(dims), 0);
    }

    /** A new tensor holding {@code values} converted to {@code dtype} (a floating-point type). */
    public static Tensor of(Device device, DType dtype, float[] values, long... shape) {
        Tensor t = empty(device, dtype, shape);
        t.copyFrom(values);
        return t;
    }

    public static Tensor of(Device device, int[] values, long... shape) {
        Tensor t = empty(device, DType.I32, shape);
        t.copyFrom(values);
        return t;
    }

    public static Tensor of(Device device, long[] values, long... shape) {
        Tensor t = empty(device, DType.I64, shape);
        t.copyFrom(values);
        return t;
    }

    @Override public Device device() { return storage.device(); }

    public DType dtype() { return dtype; }

    public int rank() { return shape.length; }

    public long[] shape() { return shape.clone(); }

    public long shape(int dim) { return shape[checkDim(dim)]; }

    public long[] strides() { return strides.clone(); }

    public long stride(int dim) { return strides[checkDim(dim)]; }

    /** Offset of element 0 from the start of the storage, in elements. */
    public long offset() { return offset; }

    public long numel() { return numel(shape); }

    @Override
    public long dataAddress() {
        requireOpen();
        return storage.address() + offset * dtype.byteSize();
    }

    public boolean isContiguous() { return Arrays.equals(strides, contiguousStrides(shape)) || numel() <= 1; }

    /** The same elements in a new shape; needs a contiguous tensor. One dimension may be -1. */
    public Tensor reshape(long... newShape) {
        long[] dims = newShape.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == -1 && inferred < 0) inferred = i;
            else known *= checkShape(new long[] {dims[i]})[0];
        }
        if (inferred >= 0) dims[inferred] = known == 0 ? 0 : numel() / known;
        if (numel(dims) != numel())
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        if (!isContiguous()) throw new IllegalArgumentException("reshape needs a contiguous tensor; this one has strides " + Arrays.toString(strides));
        return view(dims, contiguousStrides(dims), offset);
    }

    /** Elements {@code [start, end)} along {@code dim}. */
    public Tensor slice(int dim, long start, long end) {
        checkDim(dim);
        if (start < 0 || end < start || end > shape[dim])
            throw new IllegalArgumentException("slice [" + start + ", " + end + ") is outside dimension " + dim + " of size " + shape[dim]);
        long[] dims = shape.clone();
        dims[dim] = end - start;
        return view(dims, strides.clone(), offset + start * strides[dim]);
    }

    /** Swaps two dimensions (a strided view). */
    public Tensor transpose(int a, int b) {
        long[] dims = shape.clone(), st = strides.clone();
        dims[checkDim(a)] = shape[b];
        dims[checkDim(b)] = shape[a];
        st[a] = strides[b];
        st[b] = strides[a];
        return view(dims, st, offset);
    }

    public void copyFrom(float[] values) {
        requireFloating();
        requireLength(values.length);
        MemorySegment staging = staging(values.length);
        for (int i = 0; i < values.length; i++) putFloat(staging, i, values[i]);
        write(staging);
    }

    public void copyFrom(int[] values) {
        requireType(DType.I32);
        requireLength(values.length);
        MemorySegment staging = staging(values.length);
        MemorySegment.copy(values, 0, staging, I32, 0, values.length);
        write(staging);
    }

    public void copyFrom(long[] values) {
        requireType(DType.I64);
        requireLength(values.length);
        MemorySegment staging = staging(values.length);
        MemorySegment.copy(values, 0, staging, I64, 0, values.length);
        write(staging);
    }

    /** Copies {@code source} (same device, dtype and shape; both contiguous) into this tensor on the device. */
    public void copyFrom(Tensor source) {
        if (source.device() != device() || source.dtype != dtype || !Arrays.equals(source.shape, shape))
            throw new IllegalArgumentException("copyFrom: source is " + source + ", expected " + this);
        requireContiguous("copyFrom");
        source.requireContiguous("copyFrom");
        long bytes = numel() * dtype.byteSize();
        if (bytes > 0) device().copyOnDevice(source.dataAddress(), dataAddress(), bytes, device().defaultStream());
    }

    /** All elements in row-major order, converted to fp32. */
    public float[] toFloatArray() {
        requireFloating();
        MemorySegment host = read();
        float[] out = new float[(int) numel()];
        for (int i = 0; i < out.length; i++) out[i] = getFloat(host, i);
        return out;
    }

    public int[] toIntArray() {
        requireType(DType.I32);
        return read().toArray(I32);
    }

    public long[] toLongArray() {
        requireType(DType.I64);
        return read().toArray(I64);
    }

    /** Sets every byte of this (contiguous) tensor to {@code value}; 0xFF makes fp NaNs, a poison. */
    public void fillBytes(byte value) {
        requireContiguous("fillBytes");
        device().fill(dataAddress(), value, numel() * dtype.byteSize(), device().defaultStream());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        storage.release();
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device();
    }

    // ---- host transfers: contiguous elements through a staging copy (row-major order) ----

    private MemorySegment staging(long elements) {
        return Arena.ofAuto().allocate(Math.max(1, elements * dtype.byteSize()), 8);
    }

    private void write(MemorySegment staging) {
        requireContiguous("copyFrom");
        long bytes = numel() * dtype.byteSize();
        if (bytes > 0) device().copyFromHost(staging, dataAddress(), bytes, device().defaultStream());
    }

    private MemorySegment read() {
        MemorySegment host = staging(numel());
        if (numel() == 0) return host.asSlice(0, 0);
        if (isContiguous()) {
            device().copyToHost(dataAddress(), host, numel() * dtype.byteSize(), device().defaultStream());
            return host.asSlice(0, numel() * dtype.byteSize());
        }
        // strided view: fetch the span it covers, then gather in row-major order
        long span = 1;
        for (int d = 0; d < shape.length; d++) span += (shape[d] - 1) * strides[d];
        MemorySegment spanned = staging(span);
        device().copyToHost(dataAddress(), spanned, span * dtype.byteSize(), device().defaultStream());
        long[] index = new long[shape.length];
        int size = dtype.byteSize();
        for (long i = 0; i < numel(); i++) {
            long source = 0;
            for (int d = 0; d < shape.length; d++) source += index[d] * strides[d];
            MemorySegment.copy(spanned, source * size, host, i * size, size);
            for (int d = shape.length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
        return host.asSlice(0, numel() * size);
    }

    private void putFloat(MemorySegment s, long i, float v) {
        switch (dtype) {
            case F32 -> s.setAtIndex(F32, i, v);
            case F16 -> s.setAtIndex(I16, i, Float.floatToFloat16(v));
            case BF16 -> s.setAtIndex(I16, i, DType.floatToBf16(v));
            default -> throw new AssertionError(dtype);
        }
    }

    private float getFloat(MemorySegment s, long i) {
        return switch (dtype) {
            case F32 -> s.getAtIndex(F32, i);
            case F16 -> Float.float16ToFloat(s.getAtIndex(I16, i));
            case BF16 -> DType.bf16ToFloat(s.getAtIndex(I16, i));
            default -> throw new AssertionError(dtype);
        };
    }

    // ---- checks ----

    /** A view of this tensor's storage; refused once this tensor is closed, even while other views keep the storage. */
    private Tensor view(long[] dims, long[] st, long off) {
        requireOpen();
        storage.retain();
        return new Tensor(storage, dtype, dims, st, off);
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("tensor used after close()");
    }

    private int checkDim(int dim) {
        if (dim < 0 || dim >= shape.length)
            throw new IllegalArgumentException("dimension " + dim + " out of range for a rank-" + shape.length + " tensor");
        return dim;
    }

    private void requireFloating() {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("tensor is " + dtype + ", expected a floating-point type");
    }

    private void requireType(DType expected) {
        if (dtype != expected) throw new IllegalArgumentException("tensor is " + dtype + ", expected " + expected);
    }

    private void requireLength(int length) {
        if (length != numel())
            throw new IllegalArgumentException("array of " + length + " values for a tensor of shape " + Arrays.toString(shape) + " (" + numel() + " elements)");
    }

    private void requireContiguous(String what) {
        if (!isContiguous()) throw new IllegalArgumentException(what + " needs a contiguous tensor; this one has strides " + Arrays.toString(strides));
    }

    private static long[] checkShape(long[] shape) {
        for (long d : shape) if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        return shape.clone();
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(1, shape[i]);
        }
        return st;
    }
}
