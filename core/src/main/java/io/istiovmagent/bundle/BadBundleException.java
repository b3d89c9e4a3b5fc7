package io.istiovmagent.bundle;

import java.util.List;

/** The bundle was received but is not acceptable; nothing has been written. */
public final class BadBundleException extends Exception {
  private final List<Problem> problems;

  public BadBundleException(List<Problem> problems) {
    super(summary(problems), null, false, false);
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("a refused bundle needs at least one problem");
    }
    this.problems = List.copyOf(problems);
  }

  public BadBundleException(Problem problem) {
    this(List.of(problem));
  }

  public List<Problem> problems() {
    return problems;
  }

  private static String summary(List<Problem> problems) {
    if (problems.size() == 1) {
      return problems.get(0).format();
    }
    return problems.size() + " problems, first: " + (problems.isEmpty() ? "" : problems.get(0).format());
  }
}
