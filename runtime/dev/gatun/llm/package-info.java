/**
 * The Llama-family model and tokenizers.
 *
 * <p>Decisions: {@link dev.gatun.llm.LlamaModel} runs one packed step over many sequences (prefill
 * chunks and decode tokens together) against a per-layer paged KV cache and returns fp32 logits of
 * each sequence's last token only (or of its last few, for speculative verification); the block bookkeeping ({@link dev.gatun.kv.KvBlockManager}) stays
 * with the caller, the model only checks that positions, slots and block tables agree. Gate and up
 * projections are fused into one weight at load time. RoPE scaling other than none is rejected,
 * because {@link dev.gatun.ops.Attention.Rope} has no per-frequency scaling. Tokenizers do not add
 * BOS: the engine or chat template decides.
 */
package dev.gatun.llm;
