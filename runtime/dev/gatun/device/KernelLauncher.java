package dev.gatun.device;

/**
 * One launch call for every device that runs kernels/ (cuda and emu): the same Java call, grid,
 * block, dynamic shared memory and argument array on both.
 */
public interface KernelLauncher {
    /**
     * Launches {@code kernel} on {@code stream}.
     *
     * @param args values as described in {@link KernelArgs}
     */
    void launch(Kernel kernel, Dim3 grid, Dim3 block, int dynamicSharedBytes, Stream stream, Object... args);
}
