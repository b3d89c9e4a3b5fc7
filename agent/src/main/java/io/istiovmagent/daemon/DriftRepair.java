package io.istiovmagent.daemon;

import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Destination;
import io.istiovmagent.install.InstallPlan;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.Installer;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts back what someone else changed: each pass stats the installed files (a deleted token, an edited
 * cluster.env, an /etc/hosts rewritten by cloud-init), and every {@link #FULL_CHECK} compares them in full anyway:
 * it observes the disk and plans, and writes only when the plan is not empty.
 *
 * <p>The per-pass stat is of the paths as resolved at the last install or full check: resolving them again under
 * the root (a walk of every path component, for symlinks) each second cost more than the stats. A symbolic link
 * on the way that someone re-points (/etc/istio) is therefore seen by the next full check, within
 * {@link #FULL_CHECK}; a changed, replaced or deleted file within the pass.
 */
final class DriftRepair {
  /** Installed files and the hosts block are compared in full this often, even when nothing seemed to change. */
  static final Duration FULL_CHECK = Duration.ofSeconds(30);

  private final RootFs fs;
  private final Log log;
  private Map<Path, FileStamp> stamps = Map.of();
  private Instant nextFullCheck;
  private int hostsRepairs;
  private Instant lastHostsRepair;

  DriftRepair(RootFs fs, Log log, Instant now) {
    this.fs = fs;
    this.log = log;
    this.nextFullCheck = now.plus(FULL_CHECK);
  }

  /** After an install or a hosts update: what is on disk now is what the per-pass stat compares against. */
  void stamp() {
    Map<Path, FileStamp> out = new HashMap<>();
    for (Destination d : Destination.values()) {
      Path p = stamped(d.path());
      out.put(p, FileStamp.orAbsent(p));
    }
    Path hosts = stamped(Destination.HOSTS);
    out.put(hosts, FileStamp.orAbsent(hosts));
    stamps = out;
  }

  /**
   * Compares and repairs when a stamp changed or the full check is due.
   *
   * @return whether it compared the files in full (and so may have repaired something)
   * @throws IOException when the files cannot be checked; tried again on the next change or full check, not every
   *     pass (a refused link stays until someone removes it)
   */
  boolean check(Instant now, Installer installer, VerifiedBundle current, String source, List<HostsEntry> hosts)
      throws IOException {
    if (now.isBefore(nextFullCheck) && unchangedSinceStamped()) {
      return false;
    }
    nextFullCheck = now.plus(FULL_CHECK);
    try {
      InstallPlan plan = installer.plan(current, source, hosts);
      if (plan.isEmpty() && plan.refusals().isEmpty()) {
        return true; // nothing drifted: nothing is written
      }
      InstallReport r = installer.apply(plan);
      for (InstallReport.Change c : r.changes()) {
        if (c.action() == InstallReport.Action.UNCHANGED) {
          continue;
        }
        if (c.path().equals(Destination.HOSTS)) {
          hostsRepairs++;
          lastHostsRepair = now;
          log.warn("/etc/hosts was rewritten without the agent's block; block restored (repair " + hostsRepairs + ")");
        } else {
          log.warn("repaired " + c.path() + " (" + c.action().label() + (c.detail().isEmpty() ? "" : ": " + c.detail())
              + ")");
        }
      }
      r.warnings().forEach(log::warn);
      return true;
    } finally {
      stamp();
    }
  }

  int hostsRepairs() {
    return hostsRepairs;
  }

  Instant lastHostsRepair() {
    return lastHostsRepair;
  }

  /** Whether every path stamped at the last install or full check still has that stamp. */
  private boolean unchangedSinceStamped() {
    for (Map.Entry<Path, FileStamp> e : stamps.entrySet()) {
      if (!FileStamp.orAbsent(e.getKey()).equals(e.getValue())) {
        return false;
      }
    }
    return !stamps.isEmpty();
  }

  /** Where to stat a destination: as resolved, or as written when a link on the way is refused (stat only). */
  private Path stamped(String systemPath) {
    try {
      return fs.resolve(systemPath);
    } catch (IOException e) {
      return fs.lexical(systemPath);
    }
  }
}
