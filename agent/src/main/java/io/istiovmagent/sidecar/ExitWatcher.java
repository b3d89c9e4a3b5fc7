package io.istiovmagent.sidecar;

import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * Tells at once when a process exits, so that the sidecar's death wakes the agent instead of waiting for its next
 * look at the unit. One process is watched at a time.
 */
public interface ExitWatcher extends AutoCloseable {

  /** What came of {@link #watch}. */
  enum Armed {
    /** The process is watched: its exit will be reported once. */
    WATCHING,
    /** There is no such process (it has already exited and been reaped): nothing to wait for. */
    GONE,
    /** This machine or sandbox cannot watch processes; the caller has to look for itself. */
    UNSUPPORTED
  }

  /**
   * Watches {@code pid} instead of whatever was watched before. When it exits, {@code onExit} is called once with
   * the PID, on the watcher's own thread (it must not block). Watching the PID already watched changes nothing.
   *
   * @throws IllegalArgumentException when {@code pid} is not a positive process id
   */
  Armed watch(long pid, LongConsumer onExit);

  /** Why processes cannot be watched here, once that is known. */
  Optional<String> unsupportedReason();

  /** Stops watching and frees what the watcher holds (its thread, its file descriptors). Never throws. */
  @Override
  void close();

  /** A watcher that cannot watch anything: every process has to be looked at. */
  static ExitWatcher none() {
    return new ExitWatcher() {
      @Override
      public Armed watch(long pid, LongConsumer onExit) {
        return Armed.UNSUPPORTED;
      }

      @Override
      public Optional<String> unsupportedReason() {
        return Optional.of("no exit watcher configured");
      }

      @Override
      public void close() {}
    };
  }
}
