package io.istiovmagent.install;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import io.istiovmagent.util.Modes;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Lays a verified bundle out where istio-sidecar expects it, under a root prefix. Writes only what differs, each
 * file atomically, the last-known-good first (so that after a crash the state directory never holds an older
 * bundle than the system files).
 */
public final class Installer {
  public static final String PROXY_USER = "istio-proxy";
  private static final Set<PosixFilePermission> HOSTS_MODE = PosixFilePermissions.fromString("rw-r--r--");
  private static final int COMPARE_LIMIT = 1024 * 1024;
  private static final String HOSTS_NAME = "hosts";

  private final RootFs fs;
  private final LastKnownGood lastKnownGood;
  private final Clock clock;

  public Installer(RootFs fs, LastKnownGood lastKnownGood, Clock clock) {
    this.fs = fs;
    this.lastKnownGood = lastKnownGood;
    this.clock = clock;
  }

  public InstallReport install(VerifiedBundle bundle, String source) throws IOException {
    return install(bundle, source, bundle.hosts());
  }

  /**
   * Installs the bundle with these /etc/hosts entries, which differ from the bundle's own when a DNS-only gateway
   * was resolved for it.
   */
  public InstallReport install(VerifiedBundle bundle, String source, List<HostsEntry> hosts) throws IOException {
    List<Change> changes = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    Optional<FileOwner> proxy = fs.user(PROXY_USER);
    FileOwner owner = proxy.orElse(FileOwner.ROOT);
    if (proxy.isEmpty()) {
      warnings.add("user " + PROXY_USER + " does not exist yet (is istio-sidecar installed?): files are owned by "
          + "root for now; the next apply gives them to " + PROXY_USER + " once it exists");
    }

    Optional<LastKnownGood.Record> previous = loadPrevious(warnings);
    if (lastKnownGood.save(bundle.raw(), source, clock.instant())) {
      changes.add(new Change(previous.isPresent() ? Action.UPDATED : Action.CREATED,
          fs.display(lastKnownGood.file()), "last-known-good " + shortRevision(bundle.revision())));
    } else {
      changes.add(new Change(Action.UNCHANGED, fs.display(lastKnownGood.file()), "last-known-good"));
    }

    ensureEtcIstio(owner, changes);
    for (String dir : Destination.DIRECTORIES) {
      ensureDirectory(dir, owner, proxy.isPresent(), changes);
    }
    for (Map.Entry<BundleFile, byte[]> e : bundle.installContent().entrySet()) {
      Destination d = Destination.of(e.getKey()).orElseThrow();
      installFile(d, e.getValue(), owner, proxy.isPresent(), changes, warnings);
    }
    if (bundle.sidecarEnv().isEmpty()) {
      removeStaleSidecarEnv(previous, changes);
    }
    syncHosts(hosts).ifPresent(r -> {
      changes.add(r.change());
      warnings.addAll(r.warnings());
    });
    if (changes.stream().noneMatch(c -> c.path().equals(Destination.HOSTS))) {
      changes.add(new Change(Action.UNCHANGED, Destination.HOSTS, "managed block"));
    }
    return new InstallReport(bundle.revision(), List.copyOf(changes), List.copyOf(warnings));
  }

  private Optional<LastKnownGood.Record> loadPrevious(List<String> warnings) {
    try {
      return lastKnownGood.load();
    } catch (IOException | RuntimeException e) {
      warnings.add("the previous last-known-good could not be read and is replaced: " + e.getMessage());
      return Optional.empty();
    }
  }

  /** istio-sidecar's postinst makes /etc/istio a link to /var/lib/istio when absent; do the same, in either order. */
  private void ensureEtcIstio(FileOwner owner, List<Change> changes) throws IOException {
    try (DirHandle etc = fs.openDirectory("/etc", true)) {
      if (etc.attributes("istio").isPresent()) {
        return;
      }
      ensureDirectory("/var/lib/istio", owner, false, changes);
      etc.symlink("istio", "/var/lib/istio");
    }
    changes.add(new Change(Action.CREATED, "/etc/istio", "symlink to /var/lib/istio, as istio-sidecar makes it"));
  }

  private void ensureDirectory(String dir, FileOwner owner, boolean repairOwner, List<Change> changes)
      throws IOException {
    try (DirHandle parent = fs.openDirectory(parentOf(dir), true)) {
      String name = nameOf(dir);
      if (parent.attributes(name).isEmpty()) {
        parent.mkdir(name);
        parent.chown(name, owner);
        changes.add(new Change(Action.CREATED, dir + "/", describe(owner, Dirs.PUBLIC)));
        return;
      }
    }
    // There: a directory, or a link only root could have made (opening refuses any other), or not a directory.
    try (DirHandle d = fs.openDirectory(dir, false)) {
      if (repairOwner && d.chownSelf(owner)) {
        changes.add(new Change(Action.REPAIRED, dir + "/", "owner set to " + owner.name()));
      }
    }
  }

  private void installFile(Destination d, byte[] content, FileOwner owner, boolean repairOwner, List<Change> changes,
      List<String> warnings) throws IOException {
    String name = nameOf(d.path());
    try (DirHandle dir = fs.openDirectory(parentOf(d.path()), false)) {
      Optional<PosixFileAttributes> there = dir.attributes(name);
      if (there.isPresent() && there.get().isDirectory()) {
        throw new IOException(d.path() + " is a directory where a file belongs");
      }
      byte[] existing = dir.readRegular(name, COMPARE_LIMIT).orElse(null);
      if (existing != null && existing.length <= COMPARE_LIMIT && Arrays.equals(existing, content)) {
        List<String> repaired = new ArrayList<>();
        if (repairOwner && dir.chown(name, owner)) {
          repaired.add("owner set to " + owner.name());
        }
        if (d.enforceModeWhenUnchanged() && dir.chmod(name, d.mode())) {
          repaired.add("mode set to " + PosixFilePermissions.toString(d.mode()));
        }
        changes.add(repaired.isEmpty() ? new Change(Action.UNCHANGED, d.path(), "")
            : new Change(Action.REPAIRED, d.path(), String.join(", ", repaired)));
        return;
      }
      if (there.isPresent() && there.get().isSymbolicLink()) {
        warnings.add(replacedLink(dir, name, d.path()));
      }
      AtomicFile.write(dir, name, content, owner, d.mode());
      changes.add(new Change(there.isPresent() ? Action.UPDATED : Action.CREATED, d.path(),
          describe(owner, d.mode())));
    }
  }

  /**
   * The warning for a symbolic link found where a file belongs. Root never writes through it: the rename replaced
   * the link itself. Only istio-proxy (or root) can create entries in these directories: someone should look.
   */
  private static String replacedLink(DirHandle dir, String name, String systemPath) {
    String target;
    try {
      target = " (to " + Files.readSymbolicLink(dir.path().resolve(name)) + ")";
    } catch (IOException e) {
      target = "";
    }
    return systemPath + " was a symbolic link" + target + ": replaced by the file itself, the link's target left "
        + "untouched. The agent never writes through a link here; find out who made it";
  }

  private void removeStaleSidecarEnv(Optional<LastKnownGood.Record> previous, List<Change> changes)
      throws IOException {
    if (previous.isEmpty() || !previous.get().bundle().has(BundleFile.SIDECAR_ENV)) {
      return;
    }
    String path = Destination.SIDECAR_ENV.path();
    try (DirHandle dir = fs.openDirectory(parentOf(path), false)) {
      if (dir.attributes(nameOf(path)).isPresent()) {
        // unlinkat: a link there is removed, not its target.
        dir.delete(nameOf(path));
        changes.add(new Change(Action.REMOVED, path, "the new bundle has no sidecar.env"));
      }
    }
  }

  static String parentOf(String systemPath) {
    int slash = systemPath.lastIndexOf('/');
    return slash == 0 ? "/" : systemPath.substring(0, slash);
  }

  static String nameOf(String systemPath) {
    return systemPath.substring(systemPath.lastIndexOf('/') + 1);
  }
  /** What a hosts sync changed, and what the user should know about it. */
  public record HostsSync(Change change, List<String> warnings) {}

  /**
   * Makes /etc/hosts hold exactly the managed block for these entries, keeping every other line. Empty when the
   * file was already right. The daemon calls it whenever /etc/hosts may have been rewritten by someone else.
   */
  public Optional<HostsSync> syncHosts(List<HostsEntry> entries) throws IOException {
    try (DirHandle etc = fs.openDirectory("/etc", true)) {
      Optional<String> read = readHosts(etc);
      String current = read.orElse("");
      HostsBlock.Edit edit = HostsBlock.apply(current, entries);
      if (edit.text().equals(current)) {
        return Optional.empty();
      }
      AtomicFile.Outcome outcome = AtomicFile.writeHosts(etc, HOSTS_NAME,
          edit.text().getBytes(StandardCharsets.ISO_8859_1), FileOwner.ROOT, HOSTS_MODE);
      List<String> warnings = new ArrayList<>();
      for (String line : edit.disabledLines()) {
        warnings.add("/etc/hosts: commented out '" + line.strip() + "': it mapped a name the managed block manages "
            + "and would have shadowed it (purging the agent restores it)");
      }
      if (outcome == AtomicFile.Outcome.REWRITTEN_IN_PLACE) {
        warnings.add("/etc/hosts cannot be replaced atomically here (a bind mount, or /etc read-only as under the "
            + "unit's ProtectSystem=strict): it was rewritten in place");
      }
      Change change = new Change(read.isPresent() ? Action.UPDATED : Action.CREATED, Destination.HOSTS,
          entries.isEmpty() ? "managed block removed (the bundle maps no names)"
              : "managed block with " + entries.size() + " entr" + (entries.size() == 1 ? "y" : "ies"));
      return Optional.of(new HostsSync(change, List.copyOf(warnings)));
    }
  }

  /**
   * The text of /etc/hosts in {@code etc}; empty when there is none. Anything but a regular file there is refused:
   * the agent neither follows a link at /etc/hosts (it would write, and in place even, through it) nor drops the
   * lines the link's target holds by replacing it.
   */
  public static Optional<String> readHosts(DirHandle etc) throws IOException {
    Optional<PosixFileAttributes> a = etc.attributes(HOSTS_NAME);
    if (a.isEmpty()) {
      return Optional.empty();
    }
    if (!a.get().isRegularFile()) {
      throw new UnsafePathException(Destination.HOSTS + " is " + (a.get().isSymbolicLink() ? "a symbolic link"
          : "not a regular file") + ": the agent writes only a regular /etc/hosts and never through a link. Make it "
          + "a regular file (for a link: cp --remove-destination \"$(readlink -f /etc/hosts)\" /etc/hosts) and "
          + "apply again");
    }
    // ISO-8859-1 maps every byte to one char and back: foreign lines survive byte for byte, whatever their encoding.
    return Optional.of(new String(etc.readRegular(HOSTS_NAME, Integer.MAX_VALUE - 16).orElseThrow(),
        StandardCharsets.ISO_8859_1));
  }

  static String describe(FileOwner owner, Set<PosixFilePermission> mode) {
    return owner.name() + " " + Modes.octal(mode);
  }

  public static String shortRevision(String revision) {
    int colon = revision.indexOf(':');
    return revision.substring(0, Math.min(revision.length(), colon + 13));
  }
}
