/**
 * Thin FFM binding of the CUDA driver API ({@code libcuda.so.1}): downcall handles,
 * {@code CUresult} names and status-to-exception mapping. No policy, tensors or
 * scheduling; nothing here knows the rest of Gatun.
 *
 * <p>{@link dev.gatun.bindings.cuda.CudaDriver#load()} never throws: a machine without
 * a driver gets an unavailable {@link dev.gatun.bindings.cuda.CudaAvailability} with a
 * one-line reason. The system property {@code gatun.cuda.library} points the binding at
 * another library with the same exports (the test shim); nothing else changes.
 *
 * <p>Symbols are the ones CUDA 13's {@code cuda.h} selects through its {@code #define}s
 * ({@code cuMemAlloc_v2}, {@code cuMemcpyHtoD_v2}, {@code cuStreamDestroy_v2}, ...), so
 * the ABI matches what nvcc-compiled C code would call; exceptions name that symbol.
 * Handle, pointer and ownership conventions are on {@link dev.gatun.bindings.cuda.CudaDriver}.
 */
package dev.gatun.bindings.cuda;
