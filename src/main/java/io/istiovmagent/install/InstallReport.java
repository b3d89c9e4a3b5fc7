package io.istiovmagent.install;

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

  /** True when any file's content, owner or mode changed. */
  public boolean changedAnything() {
    return changes.stream().anyMatch(c -> c.action() != Action.UNCHANGED);
  }

  public boolean changed(String path) {
    return changes.stream().anyMatch(c -> c.path().equals(path) && c.action() != Action.UNCHANGED);
  }
}
