/**
 * Thin FFM binding of cuBLAS ({@code libcublas.so.13}, else {@code .12}): the handle, its
 * stream and {@code cublasGemmEx}. Optional at run time: {@link dev.gatun.bindings.blas.CuBlas#load()}
 * never throws, and a machine without cuBLAS gets the reason as a value. The system property
 * {@code gatun.cublas.library} points the binding at another library with the same exports (the
 * test shim). No policy, tensors or scheduling here.
 */
package dev.gatun.bindings.blas;
