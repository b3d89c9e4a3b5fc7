package io.istiovmagent.server;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the HTTP server's exchanges on a fixed pool with a bounded queue. When both are full, an exchange goes to a
 * small shedding pool whose only job is to answer 503 with Retry-After, so an overloaded endpoint says so rather
 * than queueing without end or dropping connections. Only when that too is full does the JDK server close the
 * connection.
 */
final class RequestExecutor implements Executor {
  private static final int SHEDDING_THREADS = 2;
  private static final int SHEDDING_QUEUE = 32;

  /** A thread of the shedding pool; the router answers 503 on it without doing any work. */
  private static final class SheddingThread extends Thread {
    SheddingThread(Runnable r, String name) {
      super(r, name);
      setDaemon(true);
    }
  }

  private final ThreadPoolExecutor workers;
  private final ThreadPoolExecutor shedding;

  RequestExecutor(int threads, int queueCapacity) {
    if (threads < 1 || queueCapacity < 0) {
      throw new IllegalArgumentException("threads must be at least 1 and the queue capacity at least 0");
    }
    BlockingQueue<Runnable> queue = queueCapacity == 0 ? new SynchronousQueue<>()
        : new ArrayBlockingQueue<>(queueCapacity);
    AtomicInteger n = new AtomicInteger();
    ThreadFactory workerThreads = r -> {
      Thread t = new Thread(r, "onboarding-worker-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
    workers = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, queue, workerThreads,
        new ThreadPoolExecutor.AbortPolicy());
    AtomicInteger s = new AtomicInteger();
    shedding = new ThreadPoolExecutor(SHEDDING_THREADS, SHEDDING_THREADS, 0, TimeUnit.MILLISECONDS,
        new ArrayBlockingQueue<>(SHEDDING_QUEUE), r -> new SheddingThread(r, "onboarding-shed-" + s.incrementAndGet()),
        new ThreadPoolExecutor.AbortPolicy());
  }

  /** When the JDK server handed the running exchange to this executor ({@link System#nanoTime}). */
  private static final ThreadLocal<Long> HANDED_OVER = new ThreadLocal<>();

  @Override
  public void execute(Runnable exchange) {
    long at = System.nanoTime();
    Runnable stamped = () -> {
      HANDED_OVER.set(at);
      exchange.run();
    };
    try {
      workers.execute(stamped);
    } catch (RejectedExecutionException full) {
      shedding.execute(stamped); // rejected too: the JDK server closes the connection
    }
  }

  /**
   * On an exchange's thread: when the server handed it over, before it waited in the queue and (on a new
   * connection) did the TLS handshake and read the request; {@code fallback} on any other thread.
   */
  static long handedOverNanos(long fallback) {
    Long at = HANDED_OVER.get();
    return at == null ? fallback : at;
  }

  /** True on a shedding thread: the exchange must be answered with 503 at once. */
  static boolean shedding() {
    return Thread.currentThread() instanceof SheddingThread;
  }

  /** Stops both pools: waits up to {@code grace} for running exchanges, then interrupts what is left. */
  void shutdown(Duration grace) throws InterruptedException {
    workers.shutdown();
    shedding.shutdown();
    long deadline = System.nanoTime() + grace.toNanos();
    if (!workers.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      workers.shutdownNow();
    }
    if (!shedding.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
      shedding.shutdownNow();
    }
  }
}
