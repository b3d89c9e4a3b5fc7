package io.istiovmagent.install;

import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.fs.Dirs;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One write an install makes, as {@link InstallPlanner} planned it and {@link PlanExecutor} makes it. Each says,
 * for a dry run, what it would do ({@link #verb()}, {@link #path()}, {@link #detail()}) and, once made, what the
 * report says ({@link #change()}). None prints file content: a step may carry the token.
 */
public sealed interface InstallStep {
  /** The system path the step writes: a directory's ends with "/". */
  String path();

  /** What it would do, for the dry run: "write", "chown", ... */
  String verb();

  /** Owner and mode, or why. */
  String detail();

  /** What the report says once it is done. */
  default Change change() {
    return new Change(action(), path(), detail());
  }

  Action action();

  /** The last-known-good, saved before any system file so that it is never older than they are. */
  record SaveLastKnownGood(String path, RawBundle bundle, String source, boolean replaces) implements InstallStep {
    public String verb() {
      return "save";
    }

    public String detail() {
      return "last-known-good " + Installer.shortRevision(bundle.revision());
    }

    public Action action() {
      return replaces ? Action.UPDATED : Action.CREATED;
    }
  }

  /** A directory istio-sidecar's files live in (missing parents are made on the way: root's, 0755). */
  record CreateDirectory(String directory, FileOwner owner) implements InstallStep {
    public String path() {
      return directory + "/";
    }

    public String verb() {
      return "mkdir";
    }

    public String detail() {
      return Installer.describe(owner, Dirs.PUBLIC);
    }

    public Action action() {
      return Action.CREATED;
    }
  }

  /** /etc/istio -> /var/lib/istio, as istio-sidecar's postinst makes it when it is missing. */
  record CreateEtcIstioLink() implements InstallStep {
    public String path() {
      return DiskObserver.ETC_ISTIO;
    }

    public String verb() {
      return "symlink";
    }

    public String detail() {
      return "symlink to " + DiskObserver.VAR_LIB_ISTIO + ", as istio-sidecar makes it";
    }

    public Action action() {
      return Action.CREATED;
    }
  }

  /** A file's or a directory's owner put right, its content left as it is. */
  record Chown(String target, FileOwner owner, boolean directory) implements InstallStep {
    public String path() {
      return directory ? target + "/" : target;
    }

    public String verb() {
      return "chown";
    }

    public String detail() {
      return "owner set to " + owner.name();
    }

    public Action action() {
      return Action.REPAIRED;
    }
  }

  /** A file's mode put right, its content left as it is. */
  record Chmod(String path, Set<PosixFilePermission> mode) implements InstallStep {
    public Chmod {
      mode = Set.copyOf(mode);
    }

    public String verb() {
      return "chmod";
    }

    public String detail() {
      return "mode set to " + PosixFilePermissions.toString(mode);
    }

    public Action action() {
      return Action.REPAIRED;
    }
  }

  /**
   * A file written whole (temporary file, rename). {@code replacesLink}: the target of the symbolic link found at the
   * path, which the rename replaces; the link's target is never written.
   */
  record WriteFile(Destination destination, byte[] content, FileOwner owner, Set<PosixFilePermission> mode,
      boolean creates, Optional<String> replacesLink) implements InstallStep {
    public WriteFile {
      content = content.clone();
      mode = Set.copyOf(mode);
    }

    public String path() {
      return destination.path();
    }

    public String verb() {
      return "write";
    }

    public String detail() {
      return Installer.describe(owner, mode);
    }

    public Action action() {
      return creates ? Action.CREATED : Action.UPDATED;
    }

    @Override
    public byte[] content() {
      return content.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof WriteFile w && destination == w.destination && Arrays.equals(content, w.content)
          && owner.equals(w.owner) && mode.equals(w.mode) && creates == w.creates
          && replacesLink.equals(w.replacesLink);
    }

    @Override
    public int hashCode() {
      return Objects.hash(destination, Arrays.hashCode(content), owner, mode, creates, replacesLink);
    }

    @Override
    public String toString() {
      return "WriteFile[" + destination.path() + ", " + content.length + " bytes, " + detail()
          + (creates ? ", new" : "") + replacesLink.map(t -> ", replaces a link to " + t).orElse("") + "]";
    }
  }

  /** A file the new bundle no longer has (sidecar.env): unlinked, a link there removed rather than its target. */
  record RemoveFile(String path, String why) implements InstallStep {
    public String verb() {
      return "remove";
    }

    public String detail() {
      return why;
    }

    public Action action() {
      return Action.REMOVED;
    }
  }

  /**
   * /etc/hosts with the managed block for {@code entries} entries (none: the block removed), every other line kept;
   * {@code before} is the text it replaces (empty when there was no file), so that a file someone rewrote since it
   * was read is not overwritten with lines it no longer holds.
   */
  record ReplaceHostsBlock(String before, String text, List<String> disabledLines, int entries, boolean creates)
      implements InstallStep {
    public ReplaceHostsBlock {
      disabledLines = List.copyOf(disabledLines);
    }

    public String path() {
      return Destination.HOSTS;
    }

    public String verb() {
      return "hosts";
    }

    public String detail() {
      return entries == 0 ? "managed block removed (the bundle maps no names)"
          : "managed block with " + entries + " entr" + (entries == 1 ? "y" : "ies");
    }

    public Action action() {
      return creates ? Action.CREATED : Action.UPDATED;
    }
  }
}
