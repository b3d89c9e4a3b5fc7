package io.istiovmagent.systemd;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import java.util.Objects;

/** The sd_notify messages the daemon sends, built so that systemd reads them as meant. */
public final class Notifications {
  /** Longest STATUS= text kept: it is shown on one line of `systemctl status`. */
  public static final int MAX_STATUS_CHARS = 256;

  private Notifications() {}

  /** Start-up is finished: a Type=notify unit becomes active. */
  public static String ready() {
    return "READY=1";
  }

  /** READY=1 and a status line in one datagram, so the unit never shows as active with a stale status. */
  public static String readyWithStatus(String line) {
    return ready() + "\n" + status(line);
  }

  /**
   * A free-form status line. Line breaks would end the assignment and start another one, so every control character
   * becomes a space; text over {@link #MAX_STATUS_CHARS} is cut and ends with "…".
   */
  public static String status(String line) {
    Objects.requireNonNull(line, "line == null");
    StringBuilder b = new StringBuilder(Math.min(line.length(), MAX_STATUS_CHARS));
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      b.append(Character.isISOControl(c) || c == '\u2028' || c == '\u2029' ? ' ' : c);
    }
    String text = b.toString().strip();
    if (text.length() > MAX_STATUS_CHARS) {
      int cut = MAX_STATUS_CHARS - 1;
      // Never keep half of a surrogate pair: it would not encode as UTF-8.
      if (Character.isHighSurrogate(text.charAt(cut - 1))) {
        cut--;
      }
      text = text.substring(0, cut) + "…";
    }
    return "STATUS=" + text;
  }

  /** The keep-alive ping for WatchdogSec=. */
  public static String watchdog() {
    return "WATCHDOG=1";
  }

  /** Shutdown has begun. */
  public static String stopping() {
    return "STOPPING=1";
  }

  /**
   * A reload has begun (Type=notify-reload). systemd needs MONOTONIC_USEC, read from CLOCK_MONOTONIC just before,
   * to tell this reload from an earlier one; pass {@link #monotonicMicros()}. Send {@link #ready()} when done.
   */
  public static String reloading(long monotonicMicros) {
    if (monotonicMicros <= 0) {
      throw new IllegalArgumentException("monotonicMicros must be positive, got " + monotonicMicros);
    }
    return "RELOADING=1\nMONOTONIC_USEC=" + monotonicMicros;
  }

  /**
   * CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC with. Read through libc, since
   * System.nanoTime() promises no particular origin. Never throws.
   */
  public static long monotonicMicros() {
    // struct timespec { time_t tv_sec; long tv_nsec; }: both as wide as long for the libc symbol JNA binds.
    try (Memory timespec = new Memory(2L * NativeLong.SIZE)) {
      LibC.clock_gettime(LibC.CLOCK_MONOTONIC, timespec);
      long seconds = timespec.getNativeLong(0).longValue();
      long nanos = timespec.getNativeLong(NativeLong.SIZE).longValue();
      return seconds * 1_000_000L + nanos / 1_000L;
    } catch (LastErrorException | LinkageError e) {
      // Only if JNA cannot load, and then sd_notify fails too. A reload must not die of it: HotSpot on Linux reads
      // CLOCK_MONOTONIC for nanoTime(), so this is the same clock wherever systemd runs.
      return System.nanoTime() / 1_000L;
    }
  }
}
