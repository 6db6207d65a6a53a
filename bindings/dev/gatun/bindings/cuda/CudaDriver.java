package dev.gatun.bindings.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The CUDA driver API ({@code libcuda.so.1}) through FFM downcalls: the one class that
 * knows the library. Obtain one with {@link #load()}; it is immutable and thread-safe
 * (the driver's current context is per OS thread, as in C).
 *
 * <p>Conventions: a {@code CUdevice} is an {@code int}; a {@code CUdeviceptr} is a
 * {@code long}; opaque handles ({@code CUcontext}, {@code CUstream}, {@code CUevent},
 * {@code CUmodule}, {@code CUfunction}) are zero-length {@link MemorySegment}s, with
 * {@link #DEFAULT_STREAM} ({@link MemorySegment#NULL}) for the legacy default stream.
 * Host buffers are native segments; copies move {@code byteSize()} bytes of the host
 * segment. Every status is checked: a failure throws {@link CudaException}.
 *
 * <p>Ownership: out-parameters live in a confined arena inside each method and are gone
 * when it returns. What the driver creates (device memory, contexts, streams, events,
 * modules) belongs to the caller, who releases it with the matching free, release,
 * destroy or unload. Host segments passed to an {@code Async} call must stay alive (and
 * should be page-locked) until the stream has passed the copy.
 */
public final class CudaDriver {

    /** System property naming a library to load instead of {@code libcuda.so.1} (a test shim). */
    public static final String LIBRARY_PROPERTY = "gatun.cuda.library";
    /** The legacy default stream ({@code NULL}). */
    public static final MemorySegment DEFAULT_STREAM = MemorySegment.NULL;
    /** {@code CU_STREAM_DEFAULT}: the stream synchronizes with the legacy default stream. */
    public static final int STREAM_DEFAULT = 0;
    /** {@code CU_STREAM_NON_BLOCKING}: the stream does not synchronize with the default stream. */
    public static final int STREAM_NON_BLOCKING = 1;
    /** {@code CU_EVENT_DEFAULT}: a timing event that spins on synchronize. */
    public static final int EVENT_DEFAULT = 0;
    /** {@code CU_EVENT_BLOCKING_SYNC}: synchronize sleeps instead of spinning. */
    public static final int EVENT_BLOCKING_SYNC = 1;
    /** {@code CU_EVENT_DISABLE_TIMING}: cheaper event that cannot be timed. */
    public static final int EVENT_DISABLE_TIMING = 2;

    /** Free and total device memory of the current context's device, in bytes. */
    public record MemInfo(long free, long total) {}

    private static final String SYSTEM_LIBRARY = "libcuda.so.1";
    private static final int NAME_BYTES = 256;
    private static final int JIT_LOG_BYTES = 16 * 1024;
    private static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    private static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

    private final String library;
    private final Binder.Fn cuInit, cuDriverGetVersion, cuDeviceGet, cuDeviceGetCount, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
            cuCtxSetCurrent, cuCtxGetDevice, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemGetInfo,
            cuMemsetD8, cuMemsetD8Async, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, cuMemcpyHtoDAsync,
            cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuStreamCreate, cuStreamDestroy, cuStreamSynchronize,
            cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy,
            cuModuleLoadDataEx, cuModuleUnload, cuModuleGetFunction, cuFuncGetAttribute, cuFuncSetAttribute,
            cuLaunchKernel;
    // Optional: CuResult names codes when the library cannot.
    private final Optional<Binder.Fn> cuGetErrorName, cuGetErrorString;

    // Symbol names are the ones cuda.h's #defines select (the _v2 ABI where it has one).
    // C types: CUresult, int, unsigned, enums and CUdevice are JAVA_INT; size_t and
    // CUdeviceptr are JAVA_LONG (LP64); pointers and handles are ADDRESS.
    private CudaDriver(String library, Binder b) {
        this.library = library;
        cuInit = b.require("cuInit", fd(JAVA_INT));
        cuDriverGetVersion = b.require("cuDriverGetVersion", fd(ADDRESS));
        cuDeviceGet = b.require("cuDeviceGet", fd(ADDRESS, JAVA_INT));
        cuDeviceGetCount = b.require("cuDeviceGetCount", fd(ADDRESS));
        cuDeviceGetName = b.require("cuDeviceGetName", fd(ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceGetAttribute = b.require("cuDeviceGetAttribute", fd(ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceTotalMem = b.require("cuDeviceTotalMem_v2", fd(ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRetain = b.require("cuDevicePrimaryCtxRetain", fd(ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRelease = b.require("cuDevicePrimaryCtxRelease_v2", fd(JAVA_INT));
        cuCtxSetCurrent = b.require("cuCtxSetCurrent", fd(ADDRESS));
        cuCtxGetDevice = b.require("cuCtxGetDevice", fd(ADDRESS));
        cuCtxSynchronize = b.require("cuCtxSynchronize", fd());
        cuMemAlloc = b.require("cuMemAlloc_v2", fd(ADDRESS, JAVA_LONG));
        cuMemFree = b.require("cuMemFree_v2", fd(JAVA_LONG));
        cuMemGetInfo = b.require("cuMemGetInfo_v2", fd(ADDRESS, ADDRESS));
        cuMemsetD8 = b.require("cuMemsetD8_v2", fd(JAVA_LONG, JAVA_BYTE, JAVA_LONG));
        cuMemsetD8Async = b.require("cuMemsetD8Async", fd(JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS));
        cuMemcpyHtoD = b.require("cuMemcpyHtoD_v2", fd(JAVA_LONG, ADDRESS, JAVA_LONG));
        cuMemcpyDtoH = b.require("cuMemcpyDtoH_v2", fd(ADDRESS, JAVA_LONG, JAVA_LONG));
        cuMemcpyDtoD = b.require("cuMemcpyDtoD_v2", fd(JAVA_LONG, JAVA_LONG, JAVA_LONG));
        cuMemcpyHtoDAsync = b.require("cuMemcpyHtoDAsync_v2", fd(JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        cuMemcpyDtoHAsync = b.require("cuMemcpyDtoHAsync_v2", fd(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemcpyDtoDAsync = b.require("cuMemcpyDtoDAsync_v2", fd(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuStreamCreate = b.require("cuStreamCreate", fd(ADDRESS, JAVA_INT));
        cuStreamDestroy = b.require("cuStreamDestroy_v2", fd(ADDRESS));
        cuStreamSynchronize = b.require("cuStreamSynchronize", fd(ADDRESS));
        cuEventCreate = b.require("cuEventCreate", fd(ADDRESS, JAVA_INT));
        cuEventRecord = b.require("cuEventRecord", fd(ADDRESS, ADDRESS));
        cuEventSynchronize = b.require("cuEventSynchronize", fd(ADDRESS));
        // CUDA 12.8 added the _v2 that cuda.h 13 selects; older drivers have only the original.
        cuEventElapsedTime = b.requireFirst(fd(ADDRESS, ADDRESS, ADDRESS), "cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuEventDestroy = b.require("cuEventDestroy_v2", fd(ADDRESS));
        cuModuleLoadDataEx = b.require("cuModuleLoadDataEx", fd(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        cuModuleUnload = b.require("cuModuleUnload", fd(ADDRESS));
        cuModuleGetFunction = b.require("cuModuleGetFunction", fd(ADDRESS, ADDRESS, ADDRESS));
        cuFuncGetAttribute = b.require("cuFuncGetAttribute", fd(ADDRESS, JAVA_INT, ADDRESS));
        cuFuncSetAttribute = b.require("cuFuncSetAttribute", fd(ADDRESS, JAVA_INT, JAVA_INT));
        cuLaunchKernel = b.require("cuLaunchKernel", fd(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuGetErrorName = b.find("cuGetErrorName", fd(JAVA_INT, ADDRESS));
        cuGetErrorString = b.find("cuGetErrorString", fd(JAVA_INT, ADDRESS));
    }

    private static FunctionDescriptor fd(MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    // ---- loading -------------------------------------------------------------------

    /**
     * Loads {@code libcuda.so.1}, or the library named by {@link #LIBRARY_PROPERTY}, binds
     * every function and calls {@code cuInit(0)}. Never throws: whatever goes wrong becomes
     * the reason of an unavailable result.
     */
    public static CudaAvailability load() {
        String override = System.getProperty(LIBRARY_PROPERTY);
        if (override != null && !override.isBlank()) {
            try {
                return load(Path.of(override));
            } catch (InvalidPathException e) {
                return CudaAvailability.unavailable(LIBRARY_PROPERTY + "=" + override + " is not a path: " + e.getMessage());
            }
        }
        return open(SYSTEM_LIBRARY, () -> SymbolLookup.libraryLookup(SYSTEM_LIBRARY, Arena.global()),
                SYSTEM_LIBRARY + " not found: no NVIDIA driver on this machine");
    }

    /** Like {@link #load()}, from an explicit library file (a test shim). Never throws. */
    public static CudaAvailability load(Path library) {
        Objects.requireNonNull(library, "library");
        if (!Files.isRegularFile(library)) {
            return CudaAvailability.unavailable(library + " not found");
        }
        return open(library.toString(), () -> SymbolLookup.libraryLookup(library, Arena.global()), null);
    }

    // The library stays mapped for the life of the process (global arena): handles into it
    // may be held anywhere, and unloading a CUDA driver is never safe.
    private static CudaAvailability open(String name, Supplier<SymbolLookup> opener, String notFound) {
        try {
            SymbolLookup lookup;
            try {
                lookup = opener.get();
            } catch (IllegalArgumentException e) {
                return CudaAvailability.unavailable(notFound != null ? notFound : "cannot load " + name + ": " + e.getMessage());
            }
            Binder binder = new Binder(lookup);
            CudaDriver driver = new CudaDriver(name, binder);
            List<String> missing = binder.missing();
            if (!missing.isEmpty()) {
                return CudaAvailability.unavailable(name + " lacks " + String.join(", ", missing)
                        + ": driver older than Gatun needs");
            }
            driver.init();
            int version = driver.driverVersion();
            return CudaAvailability.of(driver, name + ": CUDA driver " + version / 1000 + "." + version % 1000 / 10);
        } catch (CudaException e) {
            return CudaAvailability.unavailable(e.getMessage());
        } catch (IllegalCallerException e) {
            return CudaAvailability.unavailable("native access to " + name
                    + " denied: run with --enable-native-access=ALL-UNNAMED (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            return CudaAvailability.unavailable("cannot use " + name + ": " + e);
        }
    }

    /** The library this driver was loaded from: {@code libcuda.so.1} or a path. */
    public String library() {
        return library;
    }

    // ---- errors --------------------------------------------------------------------

    /** The code's name from {@code cuGetErrorName}, else from {@link CuResult#name}. */
    public String errorName(int code) {
        return cuGetErrorName.flatMap(fn -> driverString(fn, code)).orElseGet(() -> CuResult.name(code));
    }

    /** The driver's description from {@code cuGetErrorString}, else the code's name. */
    public String errorString(int code) {
        return description(code).orElseGet(() -> errorName(code));
    }

    private Optional<String> description(int code) {
        return cuGetErrorString.flatMap(fn -> driverString(fn, code));
    }

    // Both functions return static strings owned by the driver; they are copied here.
    private static Optional<String> driverString(Binder.Fn fn, int code) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = invoke(() -> (int) fn.handle().invokeExact(code, out));
            MemorySegment str = out.get(ADDRESS, 0);
            if (rc != 0 || str.equals(MemorySegment.NULL)) {
                return Optional.empty();
            }
            return Optional.of(str.reinterpret(Long.MAX_VALUE).getString(0));
        }
    }

    private CudaException failure(Binder.Fn fn, int code, String detail) {
        return new CudaException(fn.symbol(), code, errorName(code), description(code).orElse(null), detail);
    }

    // ---- invocation helpers --------------------------------------------------------

    @FunctionalInterface
    private interface Call {
        int invoke() throws Throwable;
    }

    @FunctionalInterface
    private interface OutCall {
        int invoke(MemorySegment out) throws Throwable;
    }

    // Downcall handles throw no checked exceptions; anything else is a bug worth surfacing.
    private static int invoke(Call call) {
        try {
            return call.invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private void check(Binder.Fn fn, Call call) {
        int rc = invoke(call);
        if (rc != CuResult.SUCCESS) {
            throw failure(fn, rc, null);
        }
    }

    private int outInt(Binder.Fn fn, OutCall call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(fn, () -> call.invoke(out));
            return out.get(JAVA_INT, 0);
        }
    }

    private long outLong(Binder.Fn fn, OutCall call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check(fn, () -> call.invoke(out));
            return out.get(JAVA_LONG, 0);
        }
    }

    // The returned handle is a plain address: it outlives the arena that held the out-parameter.
    private MemorySegment outHandle(Binder.Fn fn, OutCall call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(fn, () -> call.invoke(out));
            return out.get(ADDRESS, 0);
        }
    }

    // Heap segments cannot be passed to a non-critical downcall; say so in plain words.
    private static MemorySegment requireNative(MemorySegment segment, String what) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException(what + " must be a native (off-heap) segment");
        }
        return segment;
    }

    // ---- initialization and devices ------------------------------------------------

    /** {@code cuInit(0)}; {@link #load()} has already called it, and repeating it is harmless. */
    public void init() {
        check(cuInit, () -> (int) cuInit.handle().invokeExact(0));
    }

    /** {@code cuDriverGetVersion}: e.g. 13000 for CUDA 13.0. */
    public int driverVersion() {
        return outInt(cuDriverGetVersion, out -> (int) cuDriverGetVersion.handle().invokeExact(out));
    }

    /** {@code cuDeviceGetCount}. */
    public int deviceCount() {
        return outInt(cuDeviceGetCount, out -> (int) cuDeviceGetCount.handle().invokeExact(out));
    }

    /** {@code cuDeviceGet}: the {@code CUdevice} of the given ordinal. */
    public int deviceGet(int ordinal) {
        return outInt(cuDeviceGet, out -> (int) cuDeviceGet.handle().invokeExact(out, ordinal));
    }

    /** {@code cuDeviceGetName}, e.g. {@code NVIDIA H100 80GB HBM3}. */
    public String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocate(NAME_BYTES);
            // One byte short of the buffer, so the (zeroed) last byte always terminates it.
            check(cuDeviceGetName, () -> (int) cuDeviceGetName.handle().invokeExact(name, NAME_BYTES - 1, device));
            return name.getString(0);
        }
    }

    /** {@code cuDeviceGetAttribute}; {@code attribute} is a {@link CuDeviceAttribute} constant. */
    public int deviceAttribute(int attribute, int device) {
        return outInt(cuDeviceGetAttribute,
                out -> (int) cuDeviceGetAttribute.handle().invokeExact(out, attribute, device));
    }

    /** {@code cuDeviceTotalMem_v2}: global memory in bytes. */
    public long deviceTotalMem(int device) {
        return outLong(cuDeviceTotalMem, out -> (int) cuDeviceTotalMem.handle().invokeExact(out, device));
    }

    // ---- contexts ------------------------------------------------------------------

    /** {@code cuDevicePrimaryCtxRetain}: the device's primary context; pair with {@link #primaryContextRelease}. */
    public MemorySegment primaryContextRetain(int device) {
        return outHandle(cuDevicePrimaryCtxRetain,
                out -> (int) cuDevicePrimaryCtxRetain.handle().invokeExact(out, device));
    }

    /** {@code cuDevicePrimaryCtxRelease_v2}. */
    public void primaryContextRelease(int device) {
        check(cuDevicePrimaryCtxRelease, () -> (int) cuDevicePrimaryCtxRelease.handle().invokeExact(device));
    }

    /** {@code cuCtxSetCurrent}: binds {@code context} to the calling OS thread. */
    public void ctxSetCurrent(MemorySegment context) {
        check(cuCtxSetCurrent, () -> (int) cuCtxSetCurrent.handle().invokeExact(context));
    }

    /** {@code cuCtxGetDevice}: the device of the calling thread's current context. */
    public int ctxGetDevice() {
        return outInt(cuCtxGetDevice, out -> (int) cuCtxGetDevice.handle().invokeExact(out));
    }

    /** {@code cuCtxSynchronize}: waits for all work of the current context. */
    public void ctxSynchronize() {
        check(cuCtxSynchronize, () -> (int) cuCtxSynchronize.handle().invokeExact());
    }

    // ---- memory --------------------------------------------------------------------

    /** {@code cuMemAlloc_v2}: a device pointer to {@code bytes} bytes; free with {@link #memFree}. */
    public long memAlloc(long bytes) {
        return outLong(cuMemAlloc, out -> (int) cuMemAlloc.handle().invokeExact(out, bytes));
    }

    /** {@code cuMemFree_v2}. */
    public void memFree(long devicePointer) {
        check(cuMemFree, () -> (int) cuMemFree.handle().invokeExact(devicePointer));
    }

    /** {@code cuMemGetInfo_v2}. */
    public MemInfo memGetInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check(cuMemGetInfo, () -> (int) cuMemGetInfo.handle().invokeExact(free, total));
            return new MemInfo(free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0));
        }
    }

    /** {@code cuMemsetD8_v2}: sets {@code count} bytes at {@code devicePointer} to {@code value}. */
    public void memsetD8(long devicePointer, byte value, long count) {
        check(cuMemsetD8, () -> (int) cuMemsetD8.handle().invokeExact(devicePointer, value, count));
    }

    /** {@code cuMemsetD8Async}. */
    public void memsetD8Async(long devicePointer, byte value, long count, MemorySegment stream) {
        check(cuMemsetD8Async, () -> (int) cuMemsetD8Async.handle().invokeExact(devicePointer, value, count, stream));
    }

    /** {@code cuMemcpyHtoD_v2}: copies all of {@code src} to {@code dst}. */
    public void memcpyHtoD(long dst, MemorySegment src) {
        requireNative(src, "src");
        check(cuMemcpyHtoD, () -> (int) cuMemcpyHtoD.handle().invokeExact(dst, src, src.byteSize()));
    }

    /** {@code cuMemcpyDtoH_v2}: fills all of {@code dst} from {@code src}. */
    public void memcpyDtoH(MemorySegment dst, long src) {
        requireNative(dst, "dst");
        check(cuMemcpyDtoH, () -> (int) cuMemcpyDtoH.handle().invokeExact(dst, src, dst.byteSize()));
    }

    /** {@code cuMemcpyDtoD_v2}. */
    public void memcpyDtoD(long dst, long src, long bytes) {
        check(cuMemcpyDtoD, () -> (int) cuMemcpyDtoD.handle().invokeExact(dst, src, bytes));
    }

    /** {@code cuMemcpyHtoDAsync_v2}: {@code src} must stay alive until the stream has passed the copy. */
    public void memcpyHtoDAsync(long dst, MemorySegment src, MemorySegment stream) {
        requireNative(src, "src");
        check(cuMemcpyHtoDAsync, () -> (int) cuMemcpyHtoDAsync.handle().invokeExact(dst, src, src.byteSize(), stream));
    }

    /** {@code cuMemcpyDtoHAsync_v2}: {@code dst} is valid once the stream has passed the copy. */
    public void memcpyDtoHAsync(MemorySegment dst, long src, MemorySegment stream) {
        requireNative(dst, "dst");
        check(cuMemcpyDtoHAsync, () -> (int) cuMemcpyDtoHAsync.handle().invokeExact(dst, src, dst.byteSize(), stream));
    }

    /** {@code cuMemcpyDtoDAsync_v2}. */
    public void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        check(cuMemcpyDtoDAsync, () -> (int) cuMemcpyDtoDAsync.handle().invokeExact(dst, src, bytes, stream));
    }

    // ---- streams and events --------------------------------------------------------

    /** {@code cuStreamCreate}; {@code flags} is {@link #STREAM_DEFAULT} or {@link #STREAM_NON_BLOCKING}. */
    public MemorySegment streamCreate(int flags) {
        return outHandle(cuStreamCreate, out -> (int) cuStreamCreate.handle().invokeExact(out, flags));
    }

    /** {@code cuStreamDestroy_v2}. */
    public void streamDestroy(MemorySegment stream) {
        check(cuStreamDestroy, () -> (int) cuStreamDestroy.handle().invokeExact(stream));
    }

    /** {@code cuStreamSynchronize}. */
    public void streamSynchronize(MemorySegment stream) {
        check(cuStreamSynchronize, () -> (int) cuStreamSynchronize.handle().invokeExact(stream));
    }

    /** {@code cuEventCreate}; {@code flags} combines the {@code EVENT_*} constants. */
    public MemorySegment eventCreate(int flags) {
        return outHandle(cuEventCreate, out -> (int) cuEventCreate.handle().invokeExact(out, flags));
    }

    /** {@code cuEventRecord}. */
    public void eventRecord(MemorySegment event, MemorySegment stream) {
        check(cuEventRecord, () -> (int) cuEventRecord.handle().invokeExact(event, stream));
    }

    /** {@code cuEventSynchronize}. */
    public void eventSynchronize(MemorySegment event) {
        check(cuEventSynchronize, () -> (int) cuEventSynchronize.handle().invokeExact(event));
    }

    /** {@code cuEventElapsedTime_v2} (or the original on older drivers): milliseconds from start to end. */
    public float eventElapsedTime(MemorySegment start, MemorySegment end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ms = arena.allocate(JAVA_FLOAT);
            check(cuEventElapsedTime, () -> (int) cuEventElapsedTime.handle().invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        }
    }

    /** {@code cuEventDestroy_v2}. */
    public void eventDestroy(MemorySegment event) {
        check(cuEventDestroy, () -> (int) cuEventDestroy.handle().invokeExact(event));
    }

    // ---- modules and launch --------------------------------------------------------

    /**
     * {@code cuModuleLoadDataEx} into the current context. {@code image} is a cubin, a
     * fatbin or NUL-terminated PTX in native memory; the driver copies it. On failure the
     * JIT error log, if any, follows the message of the {@link CudaException}.
     */
    public MemorySegment moduleLoadData(MemorySegment image) {
        requireNative(image, "image");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment log = arena.allocate(JIT_LOG_BYTES);
            MemorySegment options = arena.allocateFrom(JAVA_INT, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = arena.allocate(ADDRESS, 2);
            values.setAtIndex(ADDRESS, 0, log);
            // An unsigned-int option travels in the pointer slot itself; one byte short keeps the log terminated.
            values.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(JIT_LOG_BYTES - 1));
            MemorySegment module = arena.allocate(ADDRESS);
            int rc = invoke(() -> (int) cuModuleLoadDataEx.handle().invokeExact(module, image, 2, options, values));
            if (rc != CuResult.SUCCESS) {
                String jitLog = log.getString(0).strip();
                throw failure(cuModuleLoadDataEx, rc, jitLog.isEmpty() ? null : "JIT error log:\n" + jitLog);
            }
            return module.get(ADDRESS, 0);
        }
    }

    /** {@code cuModuleUnload}: its functions become invalid. */
    public void moduleUnload(MemorySegment module) {
        check(cuModuleUnload, () -> (int) cuModuleUnload.handle().invokeExact(module));
    }

    /** {@code cuModuleGetFunction}: the kernel with the ({@code extern "C"}) name; lives as long as the module. */
    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            return outHandle(cuModuleGetFunction,
                    out -> (int) cuModuleGetFunction.handle().invokeExact(out, module, cName));
        }
    }

    /** {@code cuFuncGetAttribute}; {@code attribute} is a {@link CuFunctionAttribute} constant. */
    public int funcGetAttribute(int attribute, MemorySegment function) {
        return outInt(cuFuncGetAttribute,
                out -> (int) cuFuncGetAttribute.handle().invokeExact(out, attribute, function));
    }

    /** {@code cuFuncSetAttribute}, e.g. {@link CuFunctionAttribute#MAX_DYNAMIC_SHARED_SIZE_BYTES}. */
    public void funcSetAttribute(MemorySegment function, int attribute, int value) {
        check(cuFuncSetAttribute, () -> (int) cuFuncSetAttribute.handle().invokeExact(function, attribute, value));
    }

    /**
     * {@code cuLaunchKernel} with {@code extra = NULL}. {@code kernelParams} is a native
     * {@code void**}: one pointer per kernel parameter, each to that parameter's value
     * (or {@link MemorySegment#NULL} for a kernel without parameters). The driver copies
     * the values before returning, so the caller may free them right after.
     */
    public void launchKernel(MemorySegment function, int gridX, int gridY, int gridZ,
                             int blockX, int blockY, int blockZ, int sharedBytes,
                             MemorySegment stream, MemorySegment kernelParams) {
        requireNative(kernelParams, "kernelParams");
        check(cuLaunchKernel, () -> (int) cuLaunchKernel.handle().invokeExact(function,
                gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream, kernelParams, MemorySegment.NULL));
    }
}
