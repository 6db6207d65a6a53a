/**
 * Model files: {@link dev.gatun.io.Safetensors} (memory-mapped through FFM, copied from the mapping
 * straight to the device; single files and sharded checkpoints with
 * {@code model.safetensors.index.json}; a writer for tests and tools).
 */
package dev.gatun.io;
