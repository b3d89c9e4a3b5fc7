package io.istiovmagent.install;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import io.istiovmagent.util.Modes;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
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
  private static final long COMPARE_LIMIT = 1024 * 1024;

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
      installFile(d, e.getValue(), owner, proxy.isPresent(), changes);
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
    Path etcIstio = fs.lexical("/etc/istio");
    if (fs.exists(etcIstio)) {
      return;
    }
    ensureDirectory("/var/lib/istio", owner, false, changes);
    Dirs.mkdirs(etcIstio.getParent());
    Files.createSymbolicLink(etcIstio, Path.of("/var/lib/istio"));
    changes.add(new Change(Action.CREATED, "/etc/istio", "symlink to /var/lib/istio, as istio-sidecar makes it"));
  }

  private void ensureDirectory(String dir, FileOwner owner, boolean repairOwner, List<Change> changes)
      throws IOException {
    Path p = fs.resolve(dir);
    if (Files.isDirectory(p)) {
      if (repairOwner && AtomicFile.chown(p, owner)) {
        changes.add(new Change(Action.REPAIRED, dir + "/", "owner set to " + owner.name()));
      }
      return;
    }
    if (fs.exists(p)) {
      throw new IOException(dir + " exists under " + fs.root() + " but is not a directory");
    }
    Dirs.mkdirs(p.getParent());
    Files.createDirectory(p);
    AtomicFile.chown(p, owner);
    Files.setPosixFilePermissions(p, Dirs.PUBLIC);
    changes.add(new Change(Action.CREATED, dir + "/", describe(owner, Dirs.PUBLIC)));
  }

  private void installFile(Destination d, byte[] content, FileOwner owner, boolean repairOwner, List<Change> changes)
      throws IOException {
    Path p = fs.resolve(d.path());
    byte[] existing = readIfSmall(p);
    if (existing != null && Arrays.equals(existing, content)) {
      List<String> repaired = new ArrayList<>();
      if (repairOwner && AtomicFile.chown(p, owner)) {
        repaired.add("owner set to " + owner.name());
      }
      if (d.enforceModeWhenUnchanged() && !Files.getPosixFilePermissions(p).equals(d.mode())) {
        Files.setPosixFilePermissions(p, d.mode());
        repaired.add("mode set to " + PosixFilePermissions.toString(d.mode()));
      }
      changes.add(repaired.isEmpty() ? new Change(Action.UNCHANGED, d.path(), "")
          : new Change(Action.REPAIRED, d.path(), String.join(", ", repaired)));
      return;
    }
    AtomicFile.write(p, content, owner, d.mode());
    changes.add(new Change(existing == null ? Action.CREATED : Action.UPDATED, d.path(), describe(owner, d.mode())));
  }

  private void removeStaleSidecarEnv(Optional<LastKnownGood.Record> previous, List<Change> changes)
      throws IOException {
    if (previous.isEmpty() || !previous.get().bundle().has(BundleFile.SIDECAR_ENV)) {
      return;
    }
    Path p = fs.resolve(Destination.SIDECAR_ENV.path());
    if (Files.deleteIfExists(p)) {
      changes.add(new Change(Action.REMOVED, Destination.SIDECAR_ENV.path(), "the new bundle has no sidecar.env"));
    }
  }

  /** What a hosts sync changed, and what the user should know about it. */
  public record HostsSync(Change change, List<String> warnings) {}

  /**
   * Makes /etc/hosts hold exactly the managed block for these entries, keeping every other line. Empty when the
   * file was already right. The daemon calls it whenever /etc/hosts may have been rewritten by someone else.
   */
  public Optional<HostsSync> syncHosts(List<HostsEntry> entries) throws IOException {
    Path p = fs.resolve(Destination.HOSTS);
    // ISO-8859-1 maps every byte to one char and back: foreign lines survive byte for byte, whatever their encoding.
    String current = Files.isRegularFile(p) ? new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1) : "";
    HostsBlock.Edit edit = HostsBlock.apply(current, entries);
    if (edit.text().equals(current)) {
      return Optional.empty();
    }
    boolean existed = Files.isRegularFile(p);
    if (!existed) {
      Dirs.mkdirs(p.getParent());
    }
    // In place when need be: under the unit's ProtectSystem=strict only the file is writable, not /etc.
    AtomicFile.Outcome outcome = AtomicFile.writeAllowingInPlace(p,
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
    Change change = new Change(existed ? Action.UPDATED : Action.CREATED, Destination.HOSTS,
        entries.isEmpty() ? "managed block removed (the bundle maps no names)"
            : "managed block with " + entries.size() + " entr" + (entries.size() == 1 ? "y" : "ies"));
    return Optional.of(new HostsSync(change, List.copyOf(warnings)));
  }

  private static byte[] readIfSmall(Path p) throws IOException {
    if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
      if (Files.isDirectory(p)) {
        throw new IOException(p + " is a directory where a file belongs");
      }
      return null;
    }
    try (InputStream in = Files.newInputStream(p)) {
      byte[] b = in.readNBytes((int) COMPARE_LIMIT + 1);
      return b.length > COMPARE_LIMIT ? new byte[0] : b;
    }
  }

  static String describe(FileOwner owner, Set<PosixFilePermission> mode) {
    return owner.name() + " " + Modes.octal(mode);
  }

  public static String shortRevision(String revision) {
    int colon = revision.indexOf(':');
    return revision.substring(0, Math.min(revision.length(), colon + 13));
  }
}
