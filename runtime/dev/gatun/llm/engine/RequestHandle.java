package dev.gatun.llm.engine;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A submitted request, as its caller sees it. Tokens arrive as the engine samples them and can be
 * read any number of times, from any thread, in three ways:
 * <ul>
 *   <li>{@link #iterator()} (the handle is {@link Iterable}): blocks until the next token or the
 *       end; it parks on a lock, so virtual threads are cheap consumers;</li>
 *   <li>{@link #publisher()}: a {@link Flow.Publisher} honouring demand; each subscriber is fed
 *       from a virtual thread and sees every token from the first; {@code onComplete} at the end,
 *       {@code onError} when the request failed ({@link FinishReason#ERROR});</li>
 *   <li>{@link #result()}: a future of the whole {@link Result}, completed normally for every
 *       finish reason.</li>
 * </ul>
 * {@link #cancel()} stops it at any time (it finishes with {@link FinishReason#CANCELLED}).
 */
public final class RequestHandle implements Iterable<Integer> {
    private final long id;
    private final Request request;
    private final Runnable wakeEngine;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<Integer> tokens = new ArrayList<>();
    private final CompletableFuture<Result> future = new CompletableFuture<>();
    private Result result;
    private volatile boolean cancelRequested;

    RequestHandle(long id, Request request, Runnable wakeEngine) {
        this.id = id;
        this.request = request;
        this.wakeEngine = wakeEngine;
    }

    public long id() { return id; }

    public Request request() { return request; }

    /** Asks the engine to stop this request; returns false when it had already finished. */
    public boolean cancel() {
        if (isDone()) return false;
        cancelRequested = true;
        wakeEngine.run();
        return true;
    }

    boolean cancelRequested() { return cancelRequested; }

    /** Completes with the result once the request finished, whatever the reason. */
    public CompletableFuture<Result> result() { return future; }

    /** Blocks until the request finished and returns its result. */
    public Result await() { return future.join(); }

    public boolean isDone() { return future.isDone(); }

    /** The tokens generated so far. */
    public int[] tokensSoFar() {
        lock.lock();
        try {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        } finally {
            lock.unlock();
        }
    }

    // ---- engine side ----

    void emit(int token) {
        lock.lock();
        try {
            tokens.add(token);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void finish(Result r) {
        lock.lock();
        try {
            if (result != null) return;
            result = r;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        future.complete(r);
    }

    /** Blocks until token {@code index} exists (returns it) or the request ended before it (returns null). */
    private Integer awaitToken(int index) throws InterruptedException {
        lock.lock();
        try {
            while (index >= tokens.size() && result == null) changed.await();
            return index < tokens.size() ? tokens.get(index) : null;
        } finally {
            lock.unlock();
        }
    }

    // ---- consumer views ----

    /** A blocking iterator over all generated tokens; {@code hasNext} waits for the next token or the end. */
    @Override
    public Iterator<Integer> iterator() {
        return new Iterator<>() {
            int index;
            Integer next;

            @Override
            public boolean hasNext() {
                if (next != null) return true;
                try {
                    next = awaitToken(index);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for request " + id + "'s next token", e);
                }
                return next != null;
            }

            @Override
            public Integer next() {
                if (!hasNext()) throw new NoSuchElementException("request " + id + " has no more tokens");
                Integer t = next;
                next = null;
                index++;
                return t;
            }
        };
    }

    /** The tokens as a {@link Flow.Publisher}: every subscriber gets every token, under its own demand. */
    public Flow.Publisher<Integer> publisher() {
        return subscriber -> {
            if (subscriber == null) throw new NullPointerException("subscriber");
            new TokenSubscription(subscriber).start();
        };
    }

    private final class TokenSubscription implements Flow.Subscription {
        private final Flow.Subscriber<? super Integer> subscriber;
        private long demand;
        private boolean cancelled;

        TokenSubscription(Flow.Subscriber<? super Integer> subscriber) { this.subscriber = subscriber; }

        void start() {
            Thread.ofVirtual().name("gatun-request-" + id + "-subscriber").start(this::run);
        }

        private void run() {
            subscriber.onSubscribe(this);
            int index = 0;
            try {
                while (true) {
                    Integer token;
                    lock.lock();
                    try {
                        while (!cancelled && !(demand > 0 && index < tokens.size()) && !(index >= tokens.size() && result != null)) changed.await();
                        if (cancelled) return;
                        if (index < tokens.size()) {
                            token = tokens.get(index++);
                            demand--;
                        } else token = null;
                    } finally {
                        lock.unlock();
                    }
                    if (token == null) break;
                    subscriber.onNext(token);
                }
            } catch (InterruptedException e) {
                subscriber.onError(e);
                return;
            } catch (Throwable t) {
                subscriber.onError(t);
                return;
            }
            Result r = future.join();
            if (r.reason() == FinishReason.ERROR)
                subscriber.onError(r.error() != null ? r.error() : new IllegalStateException("request " + id + " failed"));
            else subscriber.onComplete();
        }

        @Override
        public void request(long n) {
            lock.lock();
            try {
                if (n <= 0) {
                    cancelled = true; // §3.9: a non-positive request is an error
                    Thread.ofVirtual().start(() -> subscriber.onError(new IllegalArgumentException("Flow.Subscription.request: n must be > 0, got " + n)));
                } else demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void cancel() {
            lock.lock();
            try {
                cancelled = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public String toString() { return "RequestHandle[" + id + (isDone() ? ", " + future.join().reason() : "") + "]"; }
}
