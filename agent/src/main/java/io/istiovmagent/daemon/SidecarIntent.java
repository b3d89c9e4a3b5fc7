package io.istiovmagent.daemon;

import io.istiovmagent.install.InstallReport;
import java.util.Set;

/**
 * What must happen to istio.service because of what was installed: started (a first bundle is in place), or
 * restarted (its configuration changed). The daemon owns it, not a supervisor: a reload that replaces the supervisor,
 * or a unit that is not installed yet, must not lose it. It is cleared only by a look that carried it out.
 */
final class SidecarIntent {
  /** What a look set out to do; {@link #done} clears only that, not what a later install asked for meanwhile. */
  record Snapshot(boolean start, boolean restart, String reason, long version) {}

  private boolean start;
  private boolean restart;
  private String reason;
  private long version;
  private Set<String> secrets = Set.of();

  /**
   * After every install. The first one means the sidecar must run; a later one, a restart when cluster.env, mesh,
   * sidecar.env or the root certificate changed. The token is remembered only to redact it.
   *
   * @return whether there is something new to do
   */
  boolean installed(InstallReport report, boolean first, String token) {
    secrets = token == null ? Set.of() : Set.of(token);
    if (first) {
      start = true;
      version++;
      return true;
    }
    RestartDecision d = RestartDecision.of(report);
    if (d.restart()) {
      restart = true;
      reason = d.summary();
      version++;
      return true;
    }
    return false;
  }

  Snapshot snapshot() {
    return new Snapshot(start, restart, reason, version);
  }

  /** A look carried out {@code s} (started the unit, or restarted it). */
  void done(Snapshot s) {
    if (s.version() != version) {
      // A newer install asked for more while the look ran: a start already done stays done, the rest waits.
      start &= !s.start();
      return;
    }
    start = false;
    restart = false; // a sidecar that is only now being started reads the new files anyway
    reason = null;
  }

  Set<String> secrets() {
    return secrets;
  }
}
