package io.istiovmagent.onboarding;

import io.istiovmagent.onboarding.mesh.VmRow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The {@code vms} command's table as kubectl prints its own: upper-case headers, columns three spaces apart, "-" for
 * what is not known, times relative to now as kubectl's ages ({@code 41m}, {@code 3h12m}, {@code 5d}). Every cell
 * is one line with no control or format character, whatever an entry holds: a terminal never takes an escape
 * sequence from the cluster. Pure.
 */
final class VmTable {
  /** Machine ids are 32 hex digits; the first 12 tell a fleet's VMs apart (-o wide shows them whole). */
  static final int SHORT_MACHINE = 12;
  static final int ERROR_WIDTH = 40;
  static final int WIDE_ERROR_WIDTH = 100;
  private static final Pattern UNPRINTABLE = Pattern.compile("[\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]");

  private record Column(String header, Function<VmRow, String> cell) {}

  private VmTable() {}

  /** The table's lines, header first; {@code namespaces} adds the NAMESPACE column (every namespace listed). */
  static List<String> lines(List<VmRow> rows, Instant now, boolean wide, boolean namespaces) {
    List<Column> columns = new ArrayList<>();
    if (namespaces) {
      columns.add(new Column("NAMESPACE", VmRow::namespace));
    }
    columns.add(new Column("GROUP", VmRow::group));
    columns.add(new Column("MACHINE", r -> wide ? r.machineId() : cut(r.machineId(), SHORT_MACHINE, "")));
    columns.add(new Column("ADDRESS", VmRow::address));
    columns.add(new Column("HEALTH", VmRow::health));
    columns.add(new Column("SIDECAR", VmRow::sidecar));
    if (wide) {
      columns.add(new Column("RESTARTS", r -> r.restarts() == null ? null : r.restarts().toString()));
      columns.add(new Column("AGENT", VmRow::agentReason));
    }
    columns.add(new Column("TOKEN-EXPIRES", r -> until(now, r.tokenExpires())));
    if (wide) {
      columns.add(new Column("ROOT-CERT-EXPIRES", r -> until(now, r.rootCertExpires())));
      columns.add(new Column("BUNDLE", VmRow::bundle));
    }
    columns.add(new Column("LAST-SEEN", r -> r.lastSeen() == null ? null : age(Duration.between(r.lastSeen(), now))));
    columns.add(new Column("LAST-ERROR", r -> cut(r.error(), wide ? WIDE_ERROR_WIDTH : ERROR_WIDTH, "...")));
    if (wide) {
      columns.add(new Column("ENTRY", VmRow::entry));
    }

    List<String[]> cells = new ArrayList<>();
    cells.add(columns.stream().map(Column::header).toArray(String[]::new));
    for (VmRow r : rows) {
      cells.add(columns.stream().map(c -> cell(c.cell().apply(r))).toArray(String[]::new));
    }
    int[] width = new int[columns.size()];
    for (String[] line : cells) {
      for (int i = 0; i < line.length; i++) {
        width[i] = Math.max(width[i], line[i].length());
      }
    }
    List<String> out = new ArrayList<>();
    for (String[] line : cells) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < line.length; i++) {
        b.append(line[i]);
        if (i < line.length - 1) {
          b.append(" ".repeat(width[i] - line[i].length() + 3));
        }
      }
      out.add(b.toString().stripTrailing());
    }
    return out;
  }

  /** How long until {@code t} as an age ({@code 41m}), or {@code expired} once it is past; null when unknown. */
  static String until(Instant now, Instant t) {
    if (t == null) {
      return null;
    }
    return t.isAfter(now) ? age(Duration.between(now, t)) : "expired";
  }

  /**
   * A duration as kubectl shows an age (k8s.io/apimachinery's HumanDuration): precise while short, coarser as it
   * grows; a negative one (a clock ahead of ours) is {@code 0s}.
   */
  static String age(Duration d) {
    long seconds = d.getSeconds();
    if (seconds < 0) {
      return "0s";
    }
    if (seconds < 60 * 2) {
      return seconds + "s";
    }
    long minutes = seconds / 60;
    if (minutes < 10) {
      return seconds % 60 == 0 ? minutes + "m" : minutes + "m" + seconds % 60 + "s";
    }
    if (minutes < 60 * 3) {
      return minutes + "m";
    }
    long hours = minutes / 60;
    if (hours < 8) {
      return minutes % 60 == 0 ? hours + "h" : hours + "h" + minutes % 60 + "m";
    }
    if (hours < 48) {
      return hours + "h";
    }
    if (hours < 24 * 8) {
      return hours % 24 == 0 ? hours / 24 + "d" : hours / 24 + "d" + hours % 24 + "h";
    }
    if (hours < 24 * 365 * 2) {
      return hours / 24 + "d";
    }
    if (hours < 24 * 365 * 8) {
      long days = hours / 24 % 365;
      return days == 0 ? hours / 24 / 365 + "y" : hours / 24 / 365 + "y" + days + "d";
    }
    return hours / 24 / 365 + "y";
  }

  /** One printable cell: "-" for nothing, each control or format character (an escape, a bidi override) a "?". */
  static String cell(String s) {
    if (s == null || s.isBlank()) {
      return "-";
    }
    return UNPRINTABLE.matcher(s).replaceAll("?");
  }

  private static String cut(String s, int max, String mark) {
    if (s == null || s.length() <= max) {
      return s;
    }
    return s.substring(0, max - mark.length()) + mark;
  }
}
