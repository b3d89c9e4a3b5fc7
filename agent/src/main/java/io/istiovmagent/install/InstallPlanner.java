package io.istiovmagent.install;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.install.DiskState.Absent;
import io.istiovmagent.install.DiskState.Directory;
import io.istiovmagent.install.DiskState.Entry;
import io.istiovmagent.install.DiskState.Link;
import io.istiovmagent.install.DiskState.Refused;
import io.istiovmagent.install.DiskState.Regular;
import io.istiovmagent.install.InstallPlan.Refusal;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import io.istiovmagent.install.InstallStep.Chmod;
import io.istiovmagent.install.InstallStep.Chown;
import io.istiovmagent.install.InstallStep.CreateDirectory;
import io.istiovmagent.install.InstallStep.CreateEtcIstioLink;
import io.istiovmagent.install.InstallStep.RemoveFile;
import io.istiovmagent.install.InstallStep.ReplaceHostsBlock;
import io.istiovmagent.install.InstallStep.SaveLastKnownGood;
import io.istiovmagent.install.InstallStep.WriteFile;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decides what installing a verified bundle takes, from the disk as observed, without touching it: a pure function
 * of its inputs, table-tested with no disk at all. Writes only what differs; the last-known-good first, so that
 * after a crash the state directory never holds an older bundle than the system files.
 */
final class InstallPlanner {
  private final List<InstallStep> steps = new ArrayList<>();
  private final List<Change> unchanged = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();
  private final List<Refusal> refusals = new ArrayList<>();

  private InstallPlanner() {}

  /**
   * @param hosts the /etc/hosts entries: the bundle's own, or a DNS-only gateway's resolved for it
   * @param proxy the istio-proxy user, when it exists: it owns what is installed; root does until then
   */
  static InstallPlan plan(VerifiedBundle bundle, List<HostsEntry> hosts, String source, DiskState disk,
      Optional<FileOwner> proxy) {
    InstallPlanner p = new InstallPlanner();
    FileOwner owner = proxy.orElse(FileOwner.ROOT);
    if (proxy.isEmpty()) {
      p.warnings.add("user " + Installer.PROXY_USER + " does not exist yet (is istio-sidecar installed?): files are "
          + "owned by root for now; the next apply gives them to " + Installer.PROXY_USER + " once it exists");
    }
    Optional<LastKnownGood.Record> previous = p.lastKnownGood(bundle, source, disk.lastKnownGood());
    p.directories(disk, owner, proxy.isPresent());
    for (Map.Entry<BundleFile, byte[]> e : bundle.installContent().entrySet()) {
      Destination d = Destination.of(e.getKey()).orElseThrow();
      p.file(d, disk.file(d), e.getValue(), owner, proxy.isPresent());
    }
    if (bundle.sidecarEnv().isEmpty() && previous.isPresent() && previous.get().bundle().has(BundleFile.SIDECAR_ENV)) {
      p.removeStale(Destination.SIDECAR_ENV, disk.file(Destination.SIDECAR_ENV));
    }
    p.hosts(disk.hosts(), hosts);
    return new InstallPlan(bundle.revision(), p.steps, p.unchanged, p.warnings, p.refusals);
  }

  /** The hosts part alone: for the daemon's re-resolved gateway, which changes nothing else. */
  static InstallPlan planHosts(String revision, Entry etcHosts, List<HostsEntry> hosts) {
    InstallPlanner p = new InstallPlanner();
    p.hosts(etcHosts, hosts);
    return new InstallPlan(revision, p.steps, p.unchanged, p.warnings, p.refusals);
  }

  private Optional<LastKnownGood.Record> lastKnownGood(VerifiedBundle bundle, String source, DiskState.Stored stored) {
    Optional<LastKnownGood.Record> previous = Optional.empty();
    if (stored.record() instanceof DiskState.Record r) {
      previous = Optional.of(r.value());
      if (r.value().revision().equals(bundle.revision()) && r.value().source().equals(source)) {
        unchanged.add(new Change(Action.UNCHANGED, stored.path(), "last-known-good"));
        return previous;
      }
    } else if (stored.record() instanceof DiskState.Unreadable u) {
      warnings.add("the previous last-known-good could not be read and is replaced: " + u.reason());
    }
    steps.add(new SaveLastKnownGood(stored.path(), bundle.raw(), source, previous.isPresent()));
    return previous;
  }

  /** /etc/istio (a link to /var/lib/istio when missing, as istio-sidecar's postinst makes it), then each directory. */
  private void directories(DiskState disk, FileOwner owner, boolean repairOwner) {
    boolean varLibIstioMade = false;
    if (disk.etcIstio() instanceof Refused r) {
      refuse(DiskObserver.ETC_ISTIO, r);
    } else if (disk.etcIstio() instanceof Absent) {
      Entry target = disk.directory(DiskObserver.VAR_LIB_ISTIO);
      if (target instanceof Refused r) {
        refuse(DiskObserver.VAR_LIB_ISTIO, r);
      } else {
        if (target instanceof Absent) {
          steps.add(new CreateDirectory(DiskObserver.VAR_LIB_ISTIO, owner));
          varLibIstioMade = true;
        }
        steps.add(new CreateEtcIstioLink());
      }
    }
    for (String dir : Destination.DIRECTORIES) {
      Entry e = disk.directory(dir);
      if (dir.equals(DiskObserver.VAR_LIB_ISTIO) && varLibIstioMade) {
        continue;
      }
      if (e instanceof Absent) {
        steps.add(new CreateDirectory(dir, owner));
      } else if (e instanceof Refused r) {
        refuse(dir, r);
      } else if (e instanceof Directory d && repairOwner && !sameOwner(d.owner(), owner)) {
        steps.add(new Chown(dir, owner, true));
      }
    }
  }

  private void file(Destination d, Entry there, byte[] content, FileOwner owner, boolean repairOwner) {
    if (there instanceof Refused r) {
      refuse(d.path(), r);
      return;
    }
    if (there instanceof Regular r && r.holds(content)) {
      boolean repaired = false;
      if (repairOwner && !sameOwner(r.owner(), owner)) {
        steps.add(new Chown(d.path(), owner, false));
        repaired = true;
      }
      // root-cert.pem's mode is pilot-agent's: it rewrites the file with its own.
      if (d.enforceModeWhenUnchanged() && !r.mode().equals(d.mode())) {
        steps.add(new Chmod(d.path(), d.mode()));
        repaired = true;
      }
      if (!repaired) {
        unchanged.add(new Change(Action.UNCHANGED, d.path(), ""));
      }
      return;
    }
    Optional<String> link = there instanceof Link l ? Optional.of(l.target()) : Optional.empty();
    link.ifPresent(target -> warnings.add(replacedLink(d.path(), target)));
    steps.add(new WriteFile(d, content, owner, d.mode(), there instanceof Absent, link));
  }

  /**
   * The warning for a symbolic link found where a file belongs. Root never writes through it: the rename replaces
   * the link itself. Only istio-proxy (or root) can create entries in these directories: someone should look.
   */
  private static String replacedLink(String systemPath, String target) {
    return systemPath + " was a symbolic link" + (target.isEmpty() ? "" : " (to " + target + ")")
        + ": replaced by the file itself, the link's target left untouched. The agent never writes through a link "
        + "here; find out who made it";
  }

  private void removeStale(Destination d, Entry there) {
    if (there instanceof Refused r) {
      refuse(d.path(), r);
    } else if (!(there instanceof Absent)) {
      steps.add(new RemoveFile(d.path(), "the new bundle has no " + Installer.nameOf(d.path())));
    }
  }

  private void hosts(Entry there, List<HostsEntry> entries) {
    if (there instanceof Refused r) {
      refuse(Destination.HOSTS, r);
      return;
    }
    // ISO-8859-1 maps every byte to one char and back: foreign lines survive byte for byte, whatever their encoding.
    String current = there instanceof Regular r ? new String(r.content(), StandardCharsets.ISO_8859_1) : "";
    HostsBlock.Edit edit = HostsBlock.apply(current, entries);
    if (edit.text().equals(current)) {
      unchanged.add(new Change(Action.UNCHANGED, Destination.HOSTS, "managed block"));
      return;
    }
    for (String line : edit.disabledLines()) {
      warnings.add("/etc/hosts: commented out '" + line.strip() + "': it mapped a name the managed block manages "
          + "and would have shadowed it (purging the agent restores it)");
    }
    steps.add(new ReplaceHostsBlock(current, edit.text(), edit.disabledLines(), entries.size(),
        !(there instanceof Regular)));
  }

  private void refuse(String path, Refused r) {
    if (refusals.stream().noneMatch(x -> x.reason().equals(r.reason()))) {
      refusals.add(new Refusal(path, r.reason(), r.unsafe()));
    }
  }

  private static boolean sameOwner(FileOwner a, FileOwner b) {
    return a.uid() == b.uid() && a.gid() == b.gid();
  }
}
