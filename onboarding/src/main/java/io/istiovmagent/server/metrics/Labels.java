package io.istiovmagent.server.metrics;

import java.util.Comparator;
import java.util.List;

/** The order series are written in: by their label values, so that two scrapes of the same state read alike. */
final class Labels {
  static final Comparator<List<String>> ORDER = (a, b) -> {
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      int c = a.get(i).compareTo(b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.size(), b.size());
  };

  private Labels() {}
}
