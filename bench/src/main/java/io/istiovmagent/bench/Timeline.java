package io.istiovmagent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/** A fleet run second by second as CSV (P5.timeline.csv, P7.timeline.csv): named columns, one row per second. */
final class Timeline {
  private final List<String> names = new ArrayList<>();
  private final List<IntFunction<String>> columns = new ArrayList<>();

  Timeline column(String name, int[] perSecond) {
    return column(name, s -> Integer.toString(perSecond[s]));
  }

  Timeline column(String name, IntFunction<String> value) {
    names.add(name);
    columns.add(value);
    return this;
  }

  /** Rows for seconds [0, end). */
  String csv(int end) {
    StringBuilder b = new StringBuilder(String.join(",", names)).append('\n');
    for (int s = 0; s < end; s++) {
      for (int c = 0; c < columns.size(); c++) {
        b.append(c == 0 ? "" : ",").append(columns.get(c).apply(s));
      }
      b.append('\n');
    }
    return b.toString();
  }

  void write(Path file, int end) throws IOException {
    Files.writeString(file, csv(end));
  }
}
