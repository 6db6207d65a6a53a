package dev.gatun.ops;

import dev.gatun.tensor.Tensor;

/** Validated arguments of the attention ops, as the backends receive them (index tensors already on the device). */
final class AttentionCalls {
    private AttentionCalls() {}

    record Prefill(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor cuSeqlensQ, Tensor cuSeqlensK,
                   int batch, int qHeads, int kvHeads, int headDim, int maxSeqlenQ, float scale, boolean causal, int windowLeft) {}

    record Decode(Tensor q, Tensor kCache, Tensor vCache, Tensor blockTables, Tensor seqLens, Tensor out, Tensor lse,
                  int batch, int qHeads, int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq,
                  int splitSize, int maxSplits, float scale, int windowLeft) {}

    record PrefillPaged(Tensor q, Tensor kCache, Tensor vCache, Tensor out, Tensor lse, Tensor cuSeqlensQ, Tensor blockTables,
                        Tensor seqLens, int batch, int qHeads, int kvHeads, int headDim, int blockSize, int maxBlocksPerSeq,
                        int maxSeqlenQ, float scale, boolean causal, int windowLeft) {}

    record Sample(Tensor logits, Tensor tokens, Tensor temperature, Tensor topK, Tensor topP, Tensor seeds, Tensor steps,
                  int batch, int vocab) {}

    record Rope(Tensor x, Tensor positions, int tokens, int heads, int headDim, Attention.Rope rope) {}

    record AppendKv(Tensor q, Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots, Tensor positions,
                    int tokens, int qHeads, int kvHeads, int headDim, int blockSize, Attention.Rope rope) {}
}
