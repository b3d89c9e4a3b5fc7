package io.istiovmagent.install;

import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallStep.Chmod;
import io.istiovmagent.install.InstallStep.Chown;
import io.istiovmagent.install.InstallStep.CreateDirectory;
import io.istiovmagent.install.InstallStep.CreateEtcIstioLink;
import io.istiovmagent.install.InstallStep.RemoveFile;
import io.istiovmagent.install.InstallStep.ReplaceHostsBlock;
import io.istiovmagent.install.InstallStep.SaveLastKnownGood;
import io.istiovmagent.install.InstallStep.WriteFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes the steps of a plan, in order, each through a {@link DirHandle} (openat, O_NOFOLLOW, renameat) and each
 * file whole ({@link AtomicFile}). Nothing here decides what to write; it only re-checks what it must to stay
 * safe: a symbolic link on the way is refused by {@link RootFs#openDirectory}, a link at a file is replaced by the
 * rename, never followed.
 */
final class PlanExecutor {
  private final RootFs fs;
  private final LastKnownGood lastKnownGood;
  private final Clock clock;

  PlanExecutor(RootFs fs, LastKnownGood lastKnownGood, Clock clock) {
    this.fs = fs;
    this.lastKnownGood = lastKnownGood;
    this.clock = clock;
  }

  /**
   * Makes every step, then fails naming the first refused path, if any: what could be written safely was.
   *
   * @return the report: the plan's changes, with the warnings that only making them told (a rewrite in place)
   */
  InstallReport execute(InstallPlan plan) throws IOException {
    List<String> warnings = new ArrayList<>();
    for (InstallStep step : plan.steps()) {
      make(step, warnings);
    }
    if (!plan.refusals().isEmpty()) {
      throw plan.refusals().get(0).exception();
    }
    return InstallReport.applied(plan, warnings);
  }

  private void make(InstallStep step, List<String> warnings) throws IOException {
    if (step instanceof SaveLastKnownGood s) {
      lastKnownGood.write(s.bundle(), s.source(), clock.instant());
    } else if (step instanceof CreateDirectory c) {
      try (DirHandle parent = fs.openDirectory(Installer.parentOf(c.directory()), true)) {
        String name = Installer.nameOf(c.directory());
        parent.mkdir(name);
        parent.chown(name, c.owner());
      }
    } else if (step instanceof CreateEtcIstioLink) {
      try (DirHandle etc = fs.openDirectory("/etc", true)) {
        etc.symlink(Installer.nameOf(DiskObserver.ETC_ISTIO), DiskObserver.VAR_LIB_ISTIO);
      }
    } else if (step instanceof Chown c && c.directory()) {
      try (DirHandle d = fs.openDirectory(c.target(), false)) {
        d.chownSelf(c.owner());
      }
    } else if (step instanceof Chown c) {
      try (DirHandle dir = fs.openDirectory(Installer.parentOf(c.target()), false)) {
        dir.chown(Installer.nameOf(c.target()), c.owner());
      }
    } else if (step instanceof Chmod c) {
      try (DirHandle dir = fs.openDirectory(Installer.parentOf(c.path()), false)) {
        dir.chmod(Installer.nameOf(c.path()), c.mode());
      }
    } else if (step instanceof WriteFile w) {
      try (DirHandle dir = fs.openDirectory(Installer.parentOf(w.path()), false)) {
        AtomicFile.write(dir, Installer.nameOf(w.path()), w.content(), w.owner(), w.mode());
      }
    } else if (step instanceof RemoveFile r) {
      try (DirHandle dir = fs.openDirectory(Installer.parentOf(r.path()), false)) {
        // unlinkat: a link there is removed, not its target.
        dir.delete(Installer.nameOf(r.path()));
      }
    } else if (step instanceof ReplaceHostsBlock h) {
      writeHosts(h, warnings);
    } else {
      throw new IllegalStateException("no way to make " + step);
    }
  }

  private void writeHosts(ReplaceHostsBlock h, List<String> warnings) throws IOException {
    try (DirHandle etc = fs.openDirectory("/etc", true)) {
      String now = Installer.readHosts(etc).orElse("");
      if (!now.equals(h.before())) {
        // Someone rewrote it since it was read: writing the plan's text would drop their lines. The next pass
        // (within a second, for the daemon) plans again from what is there now.
        throw new IOException(Destination.HOSTS + " changed while the agent was updating it; nothing was written "
            + "to it. Apply again");
      }
      AtomicFile.Outcome outcome = AtomicFile.writeHosts(etc, Installer.HOSTS_NAME,
          h.text().getBytes(StandardCharsets.ISO_8859_1), FileOwner.ROOT, Installer.HOSTS_MODE);
      if (outcome == AtomicFile.Outcome.REWRITTEN_IN_PLACE) {
        warnings.add("/etc/hosts cannot be replaced atomically here (a bind mount, or /etc read-only as under the "
            + "unit's ProtectSystem=strict): it was rewritten in place");
      }
    }
  }
}
