package io.istiovmagent.install;

import io.istiovmagent.fs.UnsafePathException;
import io.istiovmagent.install.InstallReport.Change;
import java.io.IOException;
import java.util.List;

/**
 * What installing a bundle takes, given the disk as observed: the steps in the order they must run, the managed
 * paths that need nothing, what the user should know, and the paths the agent refuses to write through (the steps
 * run all the same; the install then fails naming the first).
 */
public record InstallPlan(String revision, List<InstallStep> steps, List<Change> unchanged, List<String> warnings,
    List<Refusal> refusals) {
  public InstallPlan {
    steps = List.copyOf(steps);
    unchanged = List.copyOf(unchanged);
    warnings = List.copyOf(warnings);
    refusals = List.copyOf(refusals);
  }

  /** A path the agent will not write: a link it does not follow, or something else where a file belongs. */
  public record Refusal(String path, String reason, boolean unsafe) {
    IOException exception() {
      return unsafe ? new UnsafePathException(reason) : new IOException(reason);
    }
  }

  /** Nothing to write: the disk already holds the bundle. */
  public boolean isEmpty() {
    return steps.isEmpty();
  }
}
