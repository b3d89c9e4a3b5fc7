package io.istiovmagent.install;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** What one install did, file by file, for people to read and for the daemon to act on. */
public record InstallReport(String revision, List<Change> changes, List<String> warnings) {
  /** What happened to one path. */
  public enum Action {
    CREATED, UPDATED, UNCHANGED, REPAIRED, REMOVED;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One path and what happened to it; detail is for people (owner and mode, or what changed). */
  public record Change(Action action, String path, String detail) {}

  /**
   * The report of a plan that was made: one change per step (a file's owner and mode repaired together are one
   * change), and one per managed path that needed nothing, in the order of the paths; the plan's warnings and
   * those that making it told.
   */
  static InstallReport applied(InstallPlan plan, List<String> moreWarnings) {
    List<Change> changes = new ArrayList<>();
    for (InstallStep s : plan.steps()) {
      Change c = s.change();
      Change last = changes.isEmpty() ? null : changes.get(changes.size() - 1);
      if (last != null && last.action() == Action.REPAIRED && c.action() == Action.REPAIRED
          && last.path().equals(c.path())) {
        changes.set(changes.size() - 1, new Change(Action.REPAIRED, c.path(), last.detail() + ", " + c.detail()));
      } else {
        changes.add(c);
      }
    }
    changes.addAll(plan.unchanged());
    changes.sort(Comparator.comparingInt(c -> order(c.path())));
    List<String> warnings = new ArrayList<>(plan.warnings());
    warnings.addAll(moreWarnings);
    return new InstallReport(plan.revision(), List.copyOf(changes), List.copyOf(warnings));
  }

  /**
   * Where a path's line goes: the last-known-good, /etc/istio (and its target), the directories, the files in the
   * bundle's order, /etc/hosts.
   */
  private static int order(String path) {
    if (path.equals(DiskObserver.VAR_LIB_ISTIO + "/")) {
      return 1;
    }
    if (path.equals(DiskObserver.ETC_ISTIO)) {
      return 2;
    }
    for (int i = 0; i < Destination.DIRECTORIES.length; i++) {
      if (path.equals(Destination.DIRECTORIES[i] + "/")) {
        return 10 + i;
      }
    }
    for (Destination d : Destination.values()) {
      if (d.path().equals(path)) {
        return 100 + d.file().ordinal();
      }
    }
    return path.equals(Destination.HOSTS) ? 200 : 0;
  }

  /** True when any file's content, owner or mode changed. */
  public boolean changedAnything() {
    return changes.stream().anyMatch(c -> c.action() != Action.UNCHANGED);
  }

  public boolean changed(String path) {
    return changes.stream().anyMatch(c -> c.path().equals(path) && c.action() != Action.UNCHANGED);
  }
}
