package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The mock API server's request log ({@link ApiCounter}), read as it grows: every request counted in the second of
 * the fleet's clock it arrived in, by {@code VERB resource}, by what a status write changed, and by answer; the
 * mock's own time per request is kept for percentiles. Requests before second 0 (the mesh's setup) are not counted.
 */
final class ApiLog {
  /** One line of the log. */
  record Line(long arrivedMillis, ApiRequest request, int code, long micros, String kind) {}

  private final long t0Millis;
  private final int seconds;
  private final Map<String, int[]> byRequest = new TreeMap<>();
  /** The same, of the requests the mock answered 2xx: a write that did not happen (409) is not counted there. */
  private final Map<String, int[]> succeeded = new TreeMap<>();
  private final Map<String, int[]> byKind = new TreeMap<>();
  private final int[] all;
  private final int[] writes;
  private final int[] conflicts;
  private final int[] serverErrors;
  private long offset;
  private final StringBuilder partial = new StringBuilder();
  private int n;
  private int[] second = new int[1 << 16];
  private int[] micros = new int[1 << 16];

  ApiLog(long t0Millis, int seconds) {
    this.t0Millis = t0Millis;
    this.seconds = seconds;
    all = new int[seconds];
    writes = new int[seconds];
    conflicts = new int[seconds];
    serverErrors = new int[seconds];
  }

  /** A line of the log, or null for anything else. */
  static Line parse(String line) {
    String[] f = line.split(" ");
    if (f.length != 6) {
      return null;
    }
    try {
      return new Line(Long.parseLong(f[0]), new ApiRequest(f[1], f[2]), Integer.parseInt(f[3]),
          Long.parseLong(f[4]), f[5]);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Reads what {@code log} gained since the last call. */
  void read(Path log) throws IOException {
    if (!Files.exists(log)) {
      return;
    }
    try (SeekableByteChannel ch = Files.newByteChannel(log)) {
      ch.position(offset);
      ByteBuffer buf = ByteBuffer.allocate(1 << 16);
      int r;
      while ((r = ch.read(buf)) > 0) {
        offset += r;
        partial.append(new String(buf.array(), 0, r, StandardCharsets.US_ASCII));
        buf.clear();
      }
    }
    int start = 0;
    int nl;
    while ((nl = partial.indexOf("\n", start)) >= 0) {
      Line l = parse(partial.substring(start, nl));
      if (l != null && l.arrivedMillis() >= t0Millis) {
        count(l);
      }
      start = nl + 1;
    }
    partial.delete(0, start);
  }

  private void count(Line l) {
    int s = (int) Math.min(seconds - 1, (l.arrivedMillis() - t0Millis) / 1000);
    all[s]++;
    boolean ok = l.code() / 100 == 2;
    if (l.request().write() && ok) {
      writes[s]++;
    }
    if (l.code() == 409) {
      conflicts[s]++;
    } else if (l.code() >= 500) {
      serverErrors[s]++;
    }
    String key = l.request().verb() + " " + l.request().resource();
    byRequest.computeIfAbsent(key, k -> new int[seconds])[s]++;
    if (ok) {
      succeeded.computeIfAbsent(key, k -> new int[seconds])[s]++;
    }
    if (!l.kind().equals("-")) {
      byKind.computeIfAbsent(l.kind(), k -> new int[seconds])[s]++;
    }
    if (n == second.length) {
      second = Arrays.copyOf(second, 2 * n);
      micros = Arrays.copyOf(micros, 2 * n);
    }
    second[n] = s;
    micros[n] = (int) Math.min(Integer.MAX_VALUE, l.micros());
    n++;
  }

  /** Requests per second, all of them. */
  int[] all() {
    return all.clone();
  }

  /** Requests per second that changed what the API server stores ({@link ApiRequest#write()}, answered 2xx). */
  int[] writes() {
    return writes.clone();
  }

  int[] conflicts() {
    return conflicts.clone();
  }

  int[] serverErrors() {
    return serverErrors.clone();
  }

  /** Per second, by {@code VERB resource} ({@code PUT workloadentries/status}). */
  Map<String, int[]> byRequest() {
    return byRequest;
  }

  /** Per second, status writes by what they changed ({@link EntryWrites.Kind}, lower case). */
  int[] kind(String kind) {
    return byKind.getOrDefault(kind, new int[seconds]).clone();
  }

  /** Per second, the requests of {@code verb} (any resource), or of {@code resource} (any verb) when verb is null. */
  int[] matching(String verb, String resource) {
    return matching(byRequest, verb, resource);
  }

  /** As {@link #matching}, of the requests answered 2xx only (the writes that happened). */
  int[] succeeded(String verb, String resource) {
    return matching(succeeded, verb, resource);
  }

  private int[] matching(Map<String, int[]> counts, String verb, String resource) {
    int[] out = new int[seconds];
    counts.forEach((k, v) -> {
      String[] f = k.split(" ");
      if ((verb == null || f[0].equals(verb)) && (resource == null || f[1].equals(resource))) {
        for (int s = 0; s < seconds; s++) {
          out[s] += v[s];
        }
      }
    });
    return out;
  }

  /** The mock's own time, in microseconds, of each request that arrived in [from, to). */
  long[] micros(int from, int to) {
    long[] out = new long[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (second[i] >= from && second[i] < to) {
        out[m++] = micros[i];
      }
    }
    return Arrays.copyOf(out, m);
  }
}
