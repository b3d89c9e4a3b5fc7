package io.istiovmagent.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the agents of one fleet JVM saw of their HTTP calls, second by second from the fleet's second 0: calls
 * started, answered (by class), failed without an answer, and each answered call's duration. Filled from many
 * threads by {@link CallRecorder}; written to a file at the end and added up by {@link FleetBench}. The pure
 * arithmetic for the table is at the bottom.
 */
final class FleetStats {
  /** What a call was for: a report, a bundle fetch, an enrolment (P7: a join token for a credential). */
  enum Kind { HEALTH, BUNDLE, ENROL }

  private final long startNanos;
  private final int seconds;
  /** Calls started, by kind: what the fleet asked of the endpoint, whether or not it was up. */
  private final AtomicIntegerArray[] attempts = new AtomicIntegerArray[Kind.values().length];
  /** Answers 200 or 304, 5xx, and calls that got no answer (refused, reset, timed out). */
  private final AtomicIntegerArray ok;
  private final AtomicIntegerArray serverErrors;
  private final AtomicIntegerArray failed;
  /** Agents that had delivered a report since the endpoint came back, at the end of each second. */
  private final AtomicIntegerArray recovered;
  private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();
  /** How late a fetch started against the time its policy chose: the fleet must keep its schedule. */
  private final AtomicLong maxFetchLagMillis = new AtomicLong();
  private final LongAdder lateFetches = new LongAdder();

  // Every answered call, by the second it started: guarded by this.
  private int n;
  private int[] second = new int[1 << 16];
  private int[] micros = new int[1 << 16];

  FleetStats(long startNanos, int seconds) {
    this.startNanos = startNanos;
    this.seconds = seconds;
    for (int k = 0; k < attempts.length; k++) {
      attempts[k] = new AtomicIntegerArray(seconds);
    }
    ok = new AtomicIntegerArray(seconds);
    serverErrors = new AtomicIntegerArray(seconds);
    failed = new AtomicIntegerArray(seconds);
    recovered = new AtomicIntegerArray(seconds);
  }

  int seconds() {
    return seconds;
  }

  /** The fleet's second of a {@link System#nanoTime} reading; before 0 counts as 0, past the end as the last. */
  int secondOf(long nanos) {
    return (int) Math.max(0, Math.min(seconds - 1, Math.floorDiv(nanos - startNanos, 1_000_000_000L)));
  }

  void attempt(Kind k, long atNanos) {
    attempts[k.ordinal()].incrementAndGet(secondOf(atNanos));
  }

  void answered(long startedNanos, long durationNanos, int code) {
    int s = secondOf(startedNanos);
    if (code == 200 || code == 304) {
      ok.incrementAndGet(s);
    } else if (code >= 500) {
      serverErrors.incrementAndGet(s);
    }
    append(s, (int) Math.min(Integer.MAX_VALUE, durationNanos / 1000));
  }

  void failed(long startedNanos, String why) {
    failed.incrementAndGet(secondOf(startedNanos));
    failures.computeIfAbsent(why, x -> new LongAdder()).increment();
  }

  void recovered(int second, int agents) {
    recovered.set(Math.max(0, Math.min(seconds - 1, second)), agents);
  }

  void fetchLag(long millis) {
    maxFetchLagMillis.accumulateAndGet(millis, Math::max);
    if (millis > 1000) {
      lateFetches.increment();
    }
  }

  private synchronized void append(int s, int us) {
    if (n == second.length) {
      second = Arrays.copyOf(second, 2 * n);
      micros = Arrays.copyOf(micros, 2 * n);
    }
    second[n] = s;
    micros[n] = us;
    n++;
  }

  int[] attemptsPerSecond(Kind k) {
    return toArray(attempts[k.ordinal()]);
  }

  int[] attemptsPerSecond() {
    int[] all = new int[seconds];
    for (Kind k : Kind.values()) {
      int[] a = attemptsPerSecond(k);
      for (int s = 0; s < seconds; s++) {
        all[s] += a[s];
      }
    }
    return all;
  }

  int[] okPerSecond() {
    return toArray(ok);
  }

  int[] serverErrorsPerSecond() {
    return toArray(serverErrors);
  }

  int[] failedPerSecond() {
    return toArray(failed);
  }

  int[] recoveredPerSecond() {
    return toArray(recovered);
  }

  long maxFetchLagMillis() {
    return maxFetchLagMillis.get();
  }

  long lateFetches() {
    return lateFetches.sum();
  }

  /** Why calls failed, most frequent first: "1234 x HEALTH ConnectException: Connection refused". */
  List<String> failureReasons() {
    return failures.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue().sum(), a.getValue().sum()))
        .map(e -> e.getValue().sum() + " x " + e.getKey()).toList();
  }

  /** Durations in microseconds of the answered calls that started in [from, to). */
  synchronized long[] durations(int from, int to) {
    long[] out = new long[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (second[i] >= from && second[i] < to) {
        out[m++] = micros[i];
      }
    }
    return Arrays.copyOf(out, m);
  }

  // ---- one file per fleet JVM, added up by the coordinator ----

  private List<AtomicIntegerArray> arrays() {
    List<AtomicIntegerArray> all = new java.util.ArrayList<>(List.of(attempts));
    all.addAll(List.of(ok, serverErrors, failed, recovered));
    return all;
  }

  synchronized void writeTo(Path file) throws IOException {
    try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file)))) {
      out.writeInt(seconds);
      for (AtomicIntegerArray a : arrays()) {
        for (int i = 0; i < seconds; i++) {
          out.writeInt(a.get(i));
        }
      }
      out.writeInt(n);
      for (int i = 0; i < n; i++) {
        out.writeInt(second[i]);
        out.writeInt(micros[i]);
      }
      Map<String, Long> f = new TreeMap<>();
      failures.forEach((k, v) -> f.put(k, v.sum()));
      out.writeInt(f.size());
      for (Map.Entry<String, Long> e : f.entrySet()) {
        out.writeUTF(e.getKey());
        out.writeLong(e.getValue());
      }
      out.writeLong(maxFetchLagMillis.get());
      out.writeLong(lateFetches.sum());
    }
  }

  /** Adds a file written by {@link #writeTo} (same second 0 and length) to these counts. */
  void addFrom(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
      if (in.readInt() != seconds) {
        throw new IOException(file + " counts a different number of seconds");
      }
      for (AtomicIntegerArray a : arrays()) {
        for (int i = 0; i < seconds; i++) {
          a.addAndGet(i, in.readInt());
        }
      }
      for (int i = in.readInt(); i > 0; i--) {
        int s = in.readInt();
        append(s, in.readInt());
      }
      for (int i = in.readInt(); i > 0; i--) {
        String why = in.readUTF();
        failures.computeIfAbsent(why, x -> new LongAdder()).add(in.readLong());
      }
      maxFetchLagMillis.accumulateAndGet(in.readLong(), Math::max);
      lateFetches.add(in.readLong());
    }
  }

  private int[] toArray(AtomicIntegerArray a) {
    int[] out = new int[seconds];
    for (int s = 0; s < seconds; s++) {
      out[s] = a.get(s);
    }
    return out;
  }

  // ---- pure arithmetic ----

  /** The nearest-rank percentile (0 < p <= 100) of the values; NaN when there are none. */
  static double percentile(long[] values, double p) {
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("p must be in (0, 100], got " + p);
    }
    if (values.length == 0) {
      return Double.NaN;
    }
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[Math.max(0, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  /** The mean of perSecond over [from, to); NaN for an empty range. */
  static double mean(int[] perSecond, int from, int to) {
    if (to <= from) {
      return Double.NaN;
    }
    long sum = 0;
    for (int s = from; s < to; s++) {
      sum += perSecond[s];
    }
    return (double) sum / (to - from);
  }

  /** The highest mean of {@code window} consecutive seconds within [from, to), and the second it starts. */
  record Peak(double rate, int at) {}

  static Peak peak(int[] perSecond, int from, int to, int window) {
    if (window < 1 || to - from < window) {
      throw new IllegalArgumentException("the range [" + from + ", " + to + ") is shorter than the window " + window);
    }
    long sum = 0;
    for (int s = from; s < from + window; s++) {
      sum += perSecond[s];
    }
    long best = sum;
    int at = from;
    for (int s = from + window; s < to; s++) {
      sum += perSecond[s] - perSecond[s - window];
      if (sum > best) {
        best = sum;
        at = s - window + 1;
      }
    }
    return new Peak((double) best / window, at);
  }
}
