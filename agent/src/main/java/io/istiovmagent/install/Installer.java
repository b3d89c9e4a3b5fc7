package io.istiovmagent.install;

import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.fs.UnsafePathException;
import io.istiovmagent.install.InstallReport.Change;
import io.istiovmagent.util.Modes;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Lays a verified bundle out where istio-sidecar expects it, under a root prefix, in three parts: observe the disk
 * ({@link DiskObserver}, writes nothing), plan the steps ({@link InstallPlanner}, pure), make them
 * ({@link PlanExecutor}). Writes only what differs, each file atomically, the last-known-good first.
 */
public final class Installer {
  public static final String PROXY_USER = "istio-proxy";
  static final Set<PosixFilePermission> HOSTS_MODE = PosixFilePermissions.fromString("rw-r--r--");
  static final String HOSTS_NAME = "hosts";

  private final RootFs fs;
  private final DiskObserver observer;
  private final PlanExecutor executor;

  public Installer(RootFs fs, LastKnownGood lastKnownGood, Clock clock) {
    this.fs = fs;
    this.observer = new DiskObserver(fs, lastKnownGood);
    this.executor = new PlanExecutor(fs, lastKnownGood, clock);
  }

  public InstallReport install(VerifiedBundle bundle, String source) throws IOException {
    return install(bundle, source, bundle.hosts());
  }

  /**
   * Installs the bundle with these /etc/hosts entries, which differ from the bundle's own when a DNS-only gateway
   * was resolved for it.
   */
  public InstallReport install(VerifiedBundle bundle, String source, List<HostsEntry> hosts) throws IOException {
    return apply(plan(bundle, source, hosts));
  }

  /**
   * What installing the bundle would take, given the disk as it is now; writes nothing. Fails only when the disk
   * cannot be read: a path the agent refuses to write through is in the plan's refusals.
   */
  public InstallPlan plan(VerifiedBundle bundle, String source, List<HostsEntry> hosts) throws IOException {
    return InstallPlanner.plan(bundle, hosts, source, observer.observe(), fs.user(PROXY_USER));
  }

  /** Makes the plan's steps (none for an empty plan: nothing is written), then fails on its first refusal. */
  public InstallReport apply(InstallPlan plan) throws IOException {
    return executor.execute(plan);
  }

  /** What a hosts sync changed, and what the user should know about it. */
  public record HostsSync(Change change, List<String> warnings) {}

  /**
   * Makes /etc/hosts hold exactly the managed block for these entries, keeping every other line. Empty when the
   * file was already right. The daemon calls it when a DNS-only gateway resolves differently.
   */
  public Optional<HostsSync> syncHosts(List<HostsEntry> entries) throws IOException {
    InstallPlan plan = InstallPlanner.planHosts("", observer.hosts(), entries);
    if (plan.isEmpty() && plan.refusals().isEmpty()) {
      return Optional.empty();
    }
    InstallReport r = apply(plan);
    return Optional.of(new HostsSync(r.changes().get(0), r.warnings()));
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

  static String parentOf(String systemPath) {
    int slash = systemPath.lastIndexOf('/');
    return slash == 0 ? "/" : systemPath.substring(0, slash);
  }

  static String nameOf(String systemPath) {
    return systemPath.substring(systemPath.lastIndexOf('/') + 1);
  }

  static String describe(FileOwner owner, Set<PosixFilePermission> mode) {
    return owner.name() + " " + Modes.octal(mode);
  }

  public static String shortRevision(String revision) {
    int colon = revision.indexOf(':');
    return revision.substring(0, Math.min(revision.length(), colon + 13));
  }
}
