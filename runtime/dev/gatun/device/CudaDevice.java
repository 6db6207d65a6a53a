package dev.gatun.device;

import dev.gatun.bindings.cuda.CuDeviceAttribute;
import dev.gatun.bindings.cuda.CuFunctionAttribute;
import dev.gatun.bindings.cuda.CuResult;
import dev.gatun.bindings.cuda.CudaAvailability;
import dev.gatun.bindings.cuda.CudaDriver;
import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.bindings.gatun.NativeResources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A GPU through the CUDA driver API: kernels/ compiled by nvcc into one fatbin per family, loaded
 * with cuModuleLoadData on first use. Each call makes the device's primary context current first,
 * because the current context belongs to the OS thread and a (virtual) thread may have moved.
 */
public final class CudaDevice extends Device implements KernelLauncher {
    /** Dynamic shared memory above this needs the function attribute raised first. */
    private static final int DEFAULT_DYNAMIC_SMEM_LIMIT = 48 * 1024;
    private static CudaAvailability availability;

    private final CudaDriver driver;
    private final int ordinal;
    private final MemorySegment context;
    private final String name;
    private final Stream defaultStream;
    private final Map<String, MemorySegment> modules = new HashMap<>();
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final Map<MemorySegment, Integer> dynamicSmemAllowed = new HashMap<>();
    private volatile CudaException sticky;
    private final Optional<CudaGemm> gemm;
    private final String kernelGemmReason;

    private CudaDevice(CudaDriver driver, int ordinal, MemorySegment context, Raw raw) {
        super(raw);
        raw.device = this;
        this.driver = driver;
        this.ordinal = ordinal;
        this.context = context;
        this.defaultStream = new CudaStream(this, CudaDriver.DEFAULT_STREAM);
        int dev = driver.deviceGet(ordinal);
        this.name = driver.deviceName(dev) + " (sm_" + driver.deviceAttribute(CuDeviceAttribute.COMPUTE_CAPABILITY_MAJOR, dev)
                + driver.deviceAttribute(CuDeviceAttribute.COMPUTE_CAPABILITY_MINOR, dev) + ", "
                + driver.deviceAttribute(CuDeviceAttribute.MULTIPROCESSOR_COUNT, dev) + " SMs, "
                + driver.deviceTotalMem(dev) / (1L << 20) + " MiB)";
        String[] why = {null};
        this.gemm = CudaGemm.choose(this, why);
        this.kernelGemmReason = why[0];
    }

    private static synchronized CudaAvailability availability() {
        if (availability == null) availability = CudaDriver.load();
        return availability;
    }

    /**
     * Why this process cannot use a real GPU, or empty when it can. A driver library named by
     * {@code -Dgatun.cuda.library} (the test shim) counts as unavailable here: best() never picks it.
     */
    static Optional<String> unavailableReason() {
        CudaAvailability a = availability();
        if (!a.available()) return Optional.of(a.reason());
        if (System.getProperty(CudaDriver.LIBRARY_PROPERTY) != null)
            return Optional.of("the driver is the library named by -D" + CudaDriver.LIBRARY_PROPERTY + ", not a GPU");
        if (a.require().deviceCount() == 0) return Optional.of("the driver reports no CUDA device");
        if (NativeResources.find("softmax.fatbin", NativeResources.MAIN).isEmpty())
            return Optional.of("no kernels built (nvcc was not found when Gatun was built)");
        return Optional.empty();
    }

    static CudaDevice open(int ordinal) {
        CudaDriver driver = availability().require();
        int count = driver.deviceCount();
        if (ordinal < 0 || ordinal >= count)
            throw new IllegalArgumentException("cuda:" + ordinal + " does not exist: the driver reports " + count + " device(s)");
        MemorySegment context = driver.primaryContextRetain(driver.deviceGet(ordinal));
        driver.ctxSetCurrent(context);
        return new CudaDevice(driver, ordinal, context, new Raw());
    }

    @Override public DeviceKind kind() { return DeviceKind.CUDA; }

    @Override public String description() { return "cuda:" + ordinal + " " + name; }

    @Override public boolean hostAccessible() { return false; }

    /** Device memory the driver reports free now, in bytes (what the caching allocator holds counts as used). */
    public long freeMemoryBytes() {
        long[] free = {0};
        guarded(() -> free[0] = driver.memGetInfo().free());
        return free[0];
    }

    /** cuBLAS for the bias-free projections, when loaded (see {@link CudaGemm#PROPERTY}). */
    public Optional<CudaGemm> cublas() { return gemm; }

    /** Which GEMM the linear layers run on this device, and why. */
    public String gemmLibrary() {
        return gemm.map(CudaGemm::describe).orElse("kernels/gemm.cuh (no cuBLAS: " + kernelGemmReason + ")");
    }

    @Override public Stream defaultStream() { return defaultStream; }

    @Override
    public Stream newStream() {
        bind();
        return new CudaStream(this, driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING));
    }

    @Override
    public Event newEvent() {
        bind();
        return new CudaEvent(driver.eventCreate(CudaDriver.EVENT_DEFAULT));
    }

    @Override
    public void synchronize() { guarded(driver::ctxSynchronize); }

    @Override
    public void copyFromHost(MemorySegment src, long dst, long bytes, Stream stream) {
        guarded(() -> {
            driver.memcpyHtoDAsync(dst, src.asSlice(0, bytes), handle(stream));
            driver.streamSynchronize(handle(stream)); // src may be pageable or short-lived
        });
    }

    @Override
    public void copyToHost(long src, MemorySegment dst, long bytes, Stream stream) {
        guarded(() -> {
            driver.memcpyDtoHAsync(dst.asSlice(0, bytes), src, handle(stream));
            driver.streamSynchronize(handle(stream));
        });
    }

    @Override
    public void copyOnDevice(long src, long dst, long bytes, Stream stream) {
        guarded(() -> driver.memcpyDtoDAsync(dst, src, bytes, handle(stream)));
    }

    @Override
    public void fill(long dst, byte value, long bytes, Stream stream) {
        guarded(() -> driver.memsetD8Async(dst, value, bytes, handle(stream)));
    }

    @Override
    public void launch(Kernel kernel, Dim3 grid, Dim3 block, int dynamicSharedBytes, Stream stream, Object... args) {
        guarded(() -> {
            MemorySegment function = function(kernel);
            allowDynamicSmem(function, dynamicSharedBytes);
            try (Arena arena = Arena.ofConfined()) {
                KernelArgs packed = KernelArgs.pack(arena, this, kernel.name(), args);
                driver.launchKernel(function, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                        dynamicSharedBytes, handle(stream), packed.pointers());
            }
        });
    }

    private synchronized MemorySegment function(Kernel kernel) {
        MemorySegment function = functions.get(kernel.name());
        if (function != null) return function;
        MemorySegment module = modules.computeIfAbsent(kernel.module(), this::loadModule);
        function = driver.moduleGetFunction(module, kernel.name());
        functions.put(kernel.name(), function);
        return function;
    }

    private MemorySegment loadModule(String module) {
        Path fatbin = NativeResources.find(module + ".fatbin", NativeResources.MAIN).orElseThrow(() -> new IllegalStateException(
                "cuda: no kernels built for module " + module + " (nvcc was not found when Gatun was built)"));
        try (Arena arena = Arena.ofConfined()) {
            byte[] bytes = Files.readAllBytes(fatbin);
            MemorySegment image = arena.allocate(bytes.length + 1L, 16);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, image, 0, bytes.length);
            return driver.moduleLoadData(image);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + fatbin, e);
        }
    }

    private synchronized void allowDynamicSmem(MemorySegment function, int bytes) {
        if (bytes <= DEFAULT_DYNAMIC_SMEM_LIMIT || dynamicSmemAllowed.getOrDefault(function, 0) >= bytes) return;
        driver.funcSetAttribute(function, CuFunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        dynamicSmemAllowed.put(function, bytes);
    }

    /**
     * Makes the context current, or refuses when an earlier call hit a sticky error: after one
     * (an illegal address, a failed launch) the driver fails every call on this context, so the
     * first error is the one worth reporting.
     */
    private void bind() {
        CudaException poisoned = sticky;
        if (poisoned != null)
            throw new IllegalStateException(description() + " is unusable since " + poisoned.getMessage()
                    + "; the CUDA context cannot recover from this error: restart the process", poisoned);
        driver.ctxSetCurrent(context);
    }

    /** Runs a driver call sequence, remembering a sticky error so later calls report it. */
    void guarded(Runnable calls) {
        bind();
        try {
            calls.run();
        } catch (CudaException e) {
            if (e.isSticky()) sticky = e;
            throw e;
        }
    }

    MemorySegment handle(Stream stream) {
        if (!(stream instanceof CudaStream s) || s.device != this)
            throw new IllegalArgumentException("stream " + stream + " does not belong to " + description());
        return s.handle;
    }

    /** The driver's allocator behind the caching allocator; out of memory is reported as 0. */
    private static final class Raw implements CachingAllocator.RawMemory {
        private CudaDevice device;

        @Override
        public long allocate(long bytes) {
            long[] address = {0};
            device.guarded(() -> {
                try {
                    address[0] = device.driver.memAlloc(bytes);
                } catch (CudaException e) {
                    if (e.code() != CuResult.OUT_OF_MEMORY) throw e;
                }
            });
            return address[0];
        }

        @Override
        public void free(long address) { device.guarded(() -> device.driver.memFree(address)); }

        @Override
        public void synchronize() { device.synchronize(); }
    }

    private static final class CudaStream implements Stream {
        private final CudaDevice device;
        private final MemorySegment handle;

        CudaStream(CudaDevice device, MemorySegment handle) {
            this.device = device;
            this.handle = handle;
        }

        @Override public Device device() { return device; }

        @Override
        public void synchronize() { device.guarded(() -> device.driver.streamSynchronize(handle)); }

        @Override
        public void close() {
            if (handle.equals(CudaDriver.DEFAULT_STREAM)) return; // the device's default stream lives with it
            device.guarded(() -> device.driver.streamDestroy(handle));
        }
    }

    private final class CudaEvent implements Event {
        private final MemorySegment handle;

        CudaEvent(MemorySegment handle) { this.handle = handle; }

        @Override
        public void record(Stream stream) { guarded(() -> driver.eventRecord(handle, handle(stream))); }

        @Override
        public void synchronize() { guarded(() -> driver.eventSynchronize(handle)); }

        @Override
        public float elapsedMillisSince(Event start) {
            if (!(start instanceof CudaEvent s)) throw new IllegalArgumentException("start is not an event of " + description());
            s.synchronize();
            synchronize();
            return driver.eventElapsedTime(s.handle, handle);
        }

        @Override
        public void close() { guarded(() -> driver.eventDestroy(handle)); }
    }
}
