package io.istiovmagent.onboarding.generate;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;

/** Go's string order (sort.Strings, strings.Compare, encoding/json's map keys): UTF-8 bytes, unsigned. */
final class GoStrings {
  static final Comparator<String> ORDER = (a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8),
      b.getBytes(StandardCharsets.UTF_8));

  private GoStrings() {}
}
