package dev.gatun.testing;

import dev.gatun.bindings.cuda.CudaException;
import dev.gatun.device.CudaDevice;
import dev.gatun.device.Devices;
import dev.gatun.device.Dim3;
import dev.gatun.device.Kernel;
import dev.gatun.ops.Ops;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

/**
 * Child-JVM entry point (a sticky error poisons the CUDA context for the rest of the process):
 * launches softmax with a pointer to freed device memory over the shim and prints what the
 * launch and the next op report.
 */
public final class StickyErrorOnShim {
    private StickyErrorOnShim() {}

    public static void main(String[] args) {
        CudaShim.install();
        CudaDevice cuda = (CudaDevice) Devices.get("cuda");
        Tensor freed = Tensor.empty(cuda, DType.F32, 64);
        long stale = freed.dataAddress();
        freed.close();
        cuda.allocator().emptyCache(); // the block goes back to the driver: `stale` now dangles
        try (Tensor out = Tensor.empty(cuda, DType.F32, 1, 64)) {
            try {
                cuda.launch(new Kernel("softmax", "gatun_softmax_f32"), Dim3.of(1), Dim3.of(32), 0, cuda.defaultStream(),
                        stale, out, 1L, 64L, 64L, 64L);
                System.out.println("launch: no error");
            } catch (CudaException e) {
                System.out.println("launch: " + e.codeName() + " sticky=" + e.isSticky() + " :: " + e.getMessage());
            }
            try {
                Ops.softmax(out).close();
                System.out.println("next op: no error");
            } catch (IllegalStateException e) {
                System.out.println("next op: " + e.getMessage());
            }
        }
    }
}
