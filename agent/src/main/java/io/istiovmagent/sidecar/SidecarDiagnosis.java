package io.istiovmagent.sidecar;

import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The last lines of the sidecar's error log ({@code /var/log/istio/istio.err.log}, written by istio-start.sh), for
 * reporting a crash loop. Only the end of the file is read, and anything that looks like a credential is
 * redacted, since the lines go to the journal and to the control plane.
 */
public final class SidecarDiagnosis {
  public static final String ERR_LOG = "/var/log/istio/istio.err.log";
  public static final int DEFAULT_LINES = 20;
  public static final int DEFAULT_MAX_BYTES = 64 * 1024;
  static final String REDACTED = "[REDACTED]";
  /** A line longer than this is cut; a report needs the start of an error, not a megabyte of it. */
  static final int MAX_LINE_CHARS = 2_000;

  /** An Authorization header or field, and its value: an optional scheme word and one credential. */
  private static final Pattern AUTHORIZATION = Pattern.compile(
      "(?i)(\\bauthorization[\"']?\\s*[:=]\\s*[\"'\\[]*)((?:[A-Za-z]+\\s+)?[^\\s\"'\\],}]+)");
  private static final Pattern BEARER = Pattern.compile("(?i)(\\bbearer\\s+)([^\\s\"'\\],}]+)");
  /** A value the steps before left as "[REDACTED" (the ']' ends a value) or "Bearer [REDACTED". */
  private static final Pattern ALREADY_REDACTED = Pattern.compile("(?:[A-Za-z]+\\s+)?\\[?REDACTED");
  private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*");

  /** What was found: the last lines, or why there are none. */
  public sealed interface Result {
    /** Up to N lines, oldest first, redacted; {@code truncated} when the file held more than was read. */
    record Tail(List<String> lines, boolean truncated) implements Result {
      public Tail {
        lines = List.copyOf(lines);
      }
    }

    /** There is no log yet: the sidecar has not started on this machine, or logs elsewhere. */
    record Missing(String message) implements Result {}

    /** The log exists but could not be read. */
    record Unreadable(String message) implements Result {}
  }

  private final RootFs fs;
  private final int maxLines;
  private final int maxBytes;

  public SidecarDiagnosis(RootFs fs) {
    this(fs, DEFAULT_LINES, DEFAULT_MAX_BYTES);
  }

  public SidecarDiagnosis(RootFs fs, int maxLines, int maxBytes) {
    this.fs = Objects.requireNonNull(fs, "fs == null");
    if (maxLines < 1 || maxBytes < 1) {
      throw new IllegalArgumentException("maxLines and maxBytes must be positive: " + maxLines + ", " + maxBytes);
    }
    this.maxLines = maxLines;
    this.maxBytes = maxBytes;
  }

  /** The last lines of istio.err.log, with token-shaped text and each of {@code secrets} replaced. */
  public Result lastLines(Collection<String> secrets) {
    Objects.requireNonNull(secrets, "secrets == null");
    Path log;
    try {
      log = fs.resolve(ERR_LOG);
    } catch (IOException e) {
      return new Result.Unreadable("cannot find " + ERR_LOG + ": " + e.getMessage());
    }
    if (Files.isSymbolicLink(log)) {
      // istio-proxy owns /var/log/istio: a link there could make root copy /etc/shadow into the world-readable status.
      return new Result.Unreadable(ERR_LOG + " is a symbolic link; the agent does not read through it (istio-start.sh "
          + "writes a regular file there: remove the link)");
    }
    if (Files.isDirectory(log)) {
      return new Result.Unreadable(ERR_LOG + " is a directory, not a log file; remove it so istio-start.sh can log");
    }
    byte[] bytes;
    boolean cut;
    try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      long size = ch.size();
      long from = Math.max(0, size - maxBytes);
      ByteBuffer buf = ByteBuffer.allocate((int) (size - from));
      while (buf.hasRemaining() && ch.read(buf, from + buf.position()) >= 0) {
        // positional reads until the window is full or the file turns out shorter (truncated meanwhile)
      }
      bytes = new byte[buf.position()];
      buf.flip().get(bytes);
      cut = from > 0;
    } catch (NoSuchFileException e) {
      return new Result.Missing("no istio.err.log yet at " + ERR_LOG + ": istio.service has not run on this machine");
    } catch (IOException e) {
      return new Result.Unreadable("cannot read " + ERR_LOG + ": " + e.getMessage()
          + "; the agent needs read access to /var/log/istio");
    }
    return tail(bytes, cut, sortedLongestFirst(secrets));
  }

  private Result tail(byte[] bytes, boolean cut, List<String> secrets) {
    int start = 0;
    if (cut) {
      // The window began inside a line; that fragment could hold the end of a token no pattern would recognise.
      int nl = indexOf(bytes, (byte) '\n');
      start = nl < 0 ? bytes.length : nl + 1;
    }
    // Malformed UTF-8 (a line cut by a crash, binary junk) becomes U+FFFD rather than an error.
    String text = new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8);
    List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
    if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
      lines.remove(lines.size() - 1); // after the final newline
    }
    boolean truncated = cut || lines.size() > maxLines;
    List<String> last = lines.subList(Math.max(0, lines.size() - maxLines), lines.size());
    List<String> out = new ArrayList<>(last.size());
    for (String line : last) {
      out.add(clean(redact(stripCr(line), secrets)));
    }
    return new Result.Tail(out, truncated);
  }

  /** Replaces each exact secret, then JWTs, Authorization values and bearer tokens, with {@link #REDACTED}. */
  static String redact(String line, List<String> secretsLongestFirst) {
    String s = line;
    // Exact secrets first, longest first: a pattern rewriting part of one would stop it from matching.
    for (String secret : secretsLongestFirst) {
      s = s.replace(secret, REDACTED);
    }
    s = JWT.matcher(s).replaceAll(REDACTED);
    s = redactValue(AUTHORIZATION, s);
    return redactValue(BEARER, s);
  }

  /** Replaces group 2 of each match, unless an earlier step already redacted it. */
  private static String redactValue(Pattern p, String s) {
    return p.matcher(s).replaceAll(m -> Matcher.quoteReplacement(
        ALREADY_REDACTED.matcher(m.group(2)).matches() ? m.group() : m.group(1) + REDACTED));
  }

  static List<String> sortedLongestFirst(Collection<String> secrets) {
    List<String> out = new ArrayList<>();
    for (String s : secrets) {
      if (s != null && !s.isEmpty()) { // an empty "secret" would match between every character
        out.add(s);
      }
    }
    out.sort(Comparator.comparingInt(String::length).reversed());
    return out;
  }

  private static String stripCr(String line) {
    return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
  }

  /** Control characters become '?': these lines reach terminals and JSON, and escape sequences must not. */
  private static String clean(String line) {
    String s = line.replaceAll("[\\p{Cntrl}&&[^\t]]", "?");
    return s.length() <= MAX_LINE_CHARS ? s : s.substring(0, MAX_LINE_CHARS) + "…";
  }

  private static int indexOf(byte[] a, byte b) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == b) {
        return i;
      }
    }
    return -1;
  }
}
