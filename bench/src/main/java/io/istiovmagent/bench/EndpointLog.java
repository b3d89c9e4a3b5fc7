package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The endpoint's request log ({@code serve --debug}), read as it grows, once a second: each request line counts in
 * the second it was read, with the endpoint's own two timings (Router): from the request read to the response
 * written, and the same from when the JDK server handed the exchange over (queue, TLS handshake on a new
 * connection, request read). A line is written as soon as the response is, so it is read within the second.
 */
final class EndpointLog {
  /** {@code <7>POST /v1/health -> 200 (0.84 ms; 3.10 ms with queue and TLS)}. */
  private static final Pattern LINE = Pattern.compile(" -> (\\d{3}) \\(([0-9.]+) ms; ([0-9.]+) ms with queue");

  /** One request as the endpoint logged it; times in microseconds; whether it was a bundle fetch. */
  record Request(int status, long answerMicros, long exchangeMicros, boolean bundle) {}

  private final int seconds;
  private final int[] answered;
  private final int[] shed;
  private Path file;
  private long offset;
  private final StringBuilder partial = new StringBuilder();
  // Every request, by the second it was read.
  private int n;
  private int[] second = new int[1 << 16];
  private int[] answerMicros = new int[1 << 16];
  private int[] exchangeMicros = new int[1 << 16];
  private boolean[] bundle = new boolean[1 << 16];

  EndpointLog(int seconds) {
    this.seconds = seconds;
    answered = new int[seconds];
    shed = new int[seconds];
  }

  /** A request line of the log, or null for any other line. */
  static Request parse(String line) {
    Matcher m = LINE.matcher(line);
    if (!m.find()) {
      return null;
    }
    return new Request(Integer.parseInt(m.group(1)), Math.round(Double.parseDouble(m.group(2)) * 1000),
        Math.round(Double.parseDouble(m.group(3)) * 1000), line.contains(" /v1/bundle"));
  }

  /**
   * Reads what {@code log} gained since the last call and counts it in {@code at}; a new file (the endpoint started
   * again) is read from its start, once the old one is read to its end. A negative second only skips.
   */
  void read(Path log, int at) throws IOException {
    if (file != null && !file.equals(log)) {
      readNew(at);
      offset = 0;
      partial.setLength(0);
    }
    file = log;
    readNew(at);
  }

  private void readNew(int at) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    try (SeekableByteChannel ch = Files.newByteChannel(file)) {
      ch.position(offset);
      ByteBuffer buf = ByteBuffer.allocate(1 << 16);
      int r;
      while ((r = ch.read(buf)) > 0) {
        offset += r;
        partial.append(new String(buf.array(), 0, r, StandardCharsets.UTF_8));
        buf.clear();
      }
    }
    int nl;
    while ((nl = partial.indexOf("\n")) >= 0) {
      String line = partial.substring(0, nl);
      partial.delete(0, nl + 1);
      Request q = at < 0 ? null : parse(line);
      if (q != null) {
        count(Math.min(at, seconds - 1), q);
      }
    }
  }

  private void count(int s, Request q) {
    answered[s]++;
    if (q.status() == 503) {
      shed[s]++;
    }
    if (n == second.length) {
      second = Arrays.copyOf(second, 2 * n);
      answerMicros = Arrays.copyOf(answerMicros, 2 * n);
      exchangeMicros = Arrays.copyOf(exchangeMicros, 2 * n);
      bundle = Arrays.copyOf(bundle, 2 * n);
    }
    second[n] = s;
    answerMicros[n] = (int) Math.min(Integer.MAX_VALUE, q.answerMicros());
    exchangeMicros[n] = (int) Math.min(Integer.MAX_VALUE, q.exchangeMicros());
    bundle[n] = q.bundle();
    n++;
  }

  /** Requests the endpoint answered (any status) per second. */
  int[] answered() {
    return answered.clone();
  }

  /** Of which 503 (shed: the endpoint was full, or stopping). */
  int[] shed() {
    return shed.clone();
  }

  /** The timings of the requests read in [from, to): the answer alone, or from the hand-over. */
  long[] micros(int from, int to, boolean fromHandOver) {
    return micros(from, to, fromHandOver, null);
  }

  /** As {@link #micros(int, int, boolean)}, of the bundle fetches only, or only the others; null: all. */
  long[] micros(int from, int to, boolean fromHandOver, Boolean bundles) {
    long[] out = new long[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (second[i] >= from && second[i] < to && (bundles == null || bundles == bundle[i])) {
        out[m++] = fromHandOver ? exchangeMicros[i] : answerMicros[i];
      }
    }
    return Arrays.copyOf(out, m);
  }
}
