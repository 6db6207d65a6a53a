/**
 * The LLM serving engine: {@link dev.gatun.llm.engine.Engine} runs a
 * {@link dev.gatun.llm.LlamaModel} on one engine thread with continuous batching over a paged KV
 * cache (chunked prefill, prefix caching, preemption by recompute, optional speculative decoding
 * by prompt lookup or a draft model); callers on any thread submit
 * {@link dev.gatun.llm.engine.Request}s and stream tokens from
 * {@link dev.gatun.llm.engine.RequestHandle}s.
 */
package dev.gatun.llm.engine;
