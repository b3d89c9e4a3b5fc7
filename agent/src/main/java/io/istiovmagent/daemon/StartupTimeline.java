package io.istiovmagent.daemon;

import io.istiovmagent.util.Log;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.Handshake;

/**
 * Where the time to READY=1 goes, once, at debug level: the JVM's own start (to {@code main}), the command line, then
 * the daemon's phases in order (configuration, the bundle source with its TLS trust, the reporter, restoring the
 * last-known-good, the first status; the first fetch with its TLS handshake, verifying, planning and installing)
 * and the total since the JVM started. The fetch runs on its own thread, in parallel with what follows it on the
 * loop, so the phases add up to more than the total when they overlap. Only the first start is timed.
 */
final class StartupTimeline {
  private final Log log;
  private final LongSupplier nanos;
  private final long mainEnteredNanos;
  private final long createdNanos;
  private final Map<String, Long> phases = new LinkedHashMap<>();
  private long handshakeNanos = -1;
  private boolean done;

  StartupTimeline(Log log, long mainEnteredNanos, LongSupplier nanos) {
    this.log = log;
    this.nanos = nanos;
    this.mainEnteredNanos = mainEnteredNanos;
    this.createdNanos = nanos.getAsLong();
  }

  /**
   * How long this process has run, in milliseconds, from the kernel: /proc/uptime less the process's start time in
   * /proc/self/stat (clock ticks since boot, USER_HZ = 100 on Linux). Both come in 10 ms steps. Not
   * ProcessHandle's start instant: it adds the boot time, which /proc/stat gives to the second only.
   */
  static Optional<Long> processAgeMillis(Path proc) {
    try {
      String uptime = Files.readString(proc.resolve("uptime"), StandardCharsets.US_ASCII);
      String stat = Files.readString(proc.resolve("self/stat"), StandardCharsets.US_ASCII);
      // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, starttime 22.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
      long startTicks = Long.parseLong(f[19]);
      double up = Double.parseDouble(uptime.substring(0, uptime.indexOf(' ')));
      return Optional.of(Math.round(up * 1000) - startTicks * 10);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Runs {@code step} as the phase {@code name} (adding to it when it comes again before READY=1). */
  void time(String name, Runnable step) {
    long t0 = nanos.getAsLong();
    try {
      step.run();
    } finally {
      took(name, nanos.getAsLong() - t0);
    }
  }

  /** The daemon's parts are built: the time since it was created is the phase "daemon's parts". */
  void partsBuilt() {
    took("daemon's parts", nanos.getAsLong() - createdNanos);
  }

  /** Adds {@code elapsedNanos} to the phase {@code name}; from any thread. */
  synchronized void took(String name, long elapsedNanos) {
    if (!done) {
      phases.merge(name, elapsedNanos, Long::sum);
    }
  }

  /**
   * Observes the first fetch's HTTPS call for its TLS handshake; an observer only (trust, timeouts and retries are
   * the client's). Later calls are not looked at.
   */
  EventListener.Factory handshakeListener() {
    return call -> {
      synchronized (this) {
        if (done || handshakeNanos >= 0) {
          return EventListener.NONE;
        }
      }
      return new EventListener() {
        private long start = -1;

        @Override
        public void secureConnectStart(Call c) {
          start = nanos.getAsLong();
        }

        @Override
        public void secureConnectEnd(Call c, Handshake handshake) {
          if (start >= 0) {
            recordHandshake(nanos.getAsLong() - start);
          }
        }

        @Override
        public void connectFailed(Call c, InetSocketAddress address, Proxy proxy, okhttp3.Protocol protocol,
            java.io.IOException e) {
          start = -1;
        }
      };
    };
  }

  private synchronized void recordHandshake(long elapsed) {
    if (!done && handshakeNanos < 0) {
      handshakeNanos = elapsed;
    }
  }

  /** READY=1 was sent: logs the breakdown (at debug level), once; nothing is timed after it. */
  void ready() {
    String line;
    synchronized (this) {
      if (done) {
        return;
      }
      done = true;
      long now = nanos.getAsLong();
      long sinceMain = now - mainEnteredNanos;
      StringJoiner parts = new StringJoiner(", ");
      Optional<Long> age = processAgeMillis(Path.of("/proc"));
      Optional<Long> jvmToMain = age.map(a -> Math.max(0, a - TimeUnit.NANOSECONDS.toMillis(sinceMain)));
      jvmToMain.ifPresent(ms -> parts.add("JVM start to main ~" + ms + " ms"));
      parts.add("command line " + ms(createdNanos - mainEnteredNanos));
      phases.forEach((name, elapsed) -> parts.add(name + " " + ms(elapsed)
          + (name.equals(FETCH) && handshakeNanos >= 0 ? " (TLS handshake " + ms(handshakeNanos) + ")" : "")));
      line = "start-up: " + parts + "; READY=1 " + ms(sinceMain) + " after main"
          + age.map(a -> ", ~" + a + " ms after the process started").orElse("");
    }
    log.debug(line);
  }

  /** The name of the first fetch's phase. */
  static final String FETCH = "fetch";

  private static String ms(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.1f ms", nanos / 1e6);
  }
}
