/**
 * {@code ./gatun serve-bench}: the serving benchmark, following vLLM's {@code benchmark_serving.py}
 * so that figures can be set beside vLLM's.
 *
 * <p>Decisions, where vLLM leaves room or Gatun differs:
 * <ul>
 *   <li>Timing is the client's: in process, a token's time is when the request's consumer thread
 *       (a virtual thread reading {@code RequestHandle}'s blocking iterator) receives it; over HTTP,
 *       when the Server-Sent Event carrying its text arrives. A consumer that falls behind reads
 *       several tokens back to back, so ITL has near-zero gaps and larger ones, as a real client
 *       sees; TPOT averages them out per request.</li>
 *   <li>The duration runs from the first send to the last stream's end; one untimed warm-up
 *       request of the same shape runs first (JIT, caches).</li>
 *   <li>In process, prompts are random token ids and requests carry no stop tokens, so each runs
 *       to its {@code --output-len} (vLLM's {@code ignore_eos}). Over HTTP, prompts are random
 *       letters and spaces, {@code ignore_eos: true} is sent, and the token counts are the
 *       server's {@code usage}: a server that ignores {@code ignore_eos} (Gatun's does today) may
 *       stop early at EOS, which the output token count shows.</li>
 *   <li>{@code --model tiny} measures the engine's serving path with a test-size random model
 *       written to a temporary folder: scheduling, batching and sampling overheads plus a small
 *       model's compute, not a real model's figures.</li>
 * </ul>
 */
package dev.gatun.bench.serve;
