package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** What /proc says about a process and the machine. Linux only; every reader answers empty when it cannot. */
final class Proc {
  /** One look at a process: CPU used so far (user + system, clock ticks), resident and peak resident memory. */
  record Sample(long cpuTicks, long rssKb, long hwmKb) {}

  /** One look at the machine: busy and total clock ticks over all CPUs since boot. */
  record Machine(long busy, long total) {}

  private Proc() {}

  static Optional<Sample> sample(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
      long rss = 0;
      long hwm = 0;
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          rss = kb(line);
        } else if (line.startsWith("VmHWM:")) {
          hwm = kb(line);
        }
      }
      return Optional.of(new Sample(ticks, rss, hwm));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  static Optional<Machine> machine() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).split("\\s+");
      long total = 0;
      for (int i = 1; i < f.length; i++) {
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]); // idle + iowait
      return Optional.of(new Machine(total - idle, total));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** USER_HZ, the unit of /proc's CPU times: 100 on Linux for x86 and arm64 alike. */
  static final long CLOCK_TICKS = 100;

  private static long kb(String line) {
    return Long.parseLong(line.replaceAll("[^0-9]", ""));
  }
}
