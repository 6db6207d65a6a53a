package dev.gatun.ops;

import dev.gatun.tensor.Tensor;

/** One device's implementation of the ops; arguments are already validated by {@link Ops}. */
sealed interface Backend permits CpuBackend, KernelBackend {
    void softmax(Rows x, Rows y);

    void rmsNorm(Rows x, Tensor weight, float eps, Rows y);

    void rowSum(Rows x, Tensor out);

    void prefill(AttentionCalls.Prefill call);

    void decode(AttentionCalls.Decode call);

    void rope(AttentionCalls.Rope call);

    void appendKv(AttentionCalls.AppendKv call);
}
