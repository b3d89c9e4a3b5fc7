package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.SidecarState;
import io.istiovmagent.util.Log;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * istio.service as the daemon sees it: the intent (what must be done to it, derived from what was installed) and
 * the supervisor that carries it out, rebuilt only when the sidecar's section of the configuration changed. The
 * intent stays here across supervisors; none is built while sidecar.manage is false.
 */
final class SidecarLane implements AutoCloseable {
  private static final AgentStatus.Sidecar UNMANAGED = new AgentStatus.Sidecar(false, SidecarState.Agent.UNMANAGED,
      0, 0, null, null, false, List.of());

  private final SidecarSupervisor.Factory factory;
  private final RootFs fs;
  private final Log log;
  private final Runnable wake;
  private final SidecarIntent intent = new SidecarIntent();
  private AgentConfig.Sidecar config;
  private SidecarSupervisor supervisor;
  /** Restarts done by the supervisors replaced so far (a reload builds a new one; the count goes on). */
  private long restartsBefore;

  SidecarLane(SidecarSupervisor.Factory factory, RootFs fs, Log log, Runnable wake) {
    this.factory = factory;
    this.fs = fs;
    this.log = log;
    this.wake = wake;
  }

  /** Takes the sidecar's section; a new supervisor only when it changed, handed the intent there is. */
  void configure(AgentConfig.Sidecar next) {
    if (next.equals(config) && (supervisor != null) == next.manage()) {
      return;
    }
    config = next;
    if (supervisor != null) {
      restartsBefore += supervisor.restartsDone();
      supervisor.close();
    }
    supervisor = next.manage() ? factory.create(next, fs, log) : null;
    if (supervisor != null) {
      supervisor.watch(wake);
      supervisor.adopt(intent);
    }
  }

  /** After every install: what it means for the unit, acted on at once when there is something to do. */
  void installed(InstallReport report, boolean first, String token) {
    if (intent.installed(report, first, token) && supervisor != null) {
      supervisor.lookSoon();
    }
  }

  /** Before the loop: the first look, waited for {@code within} at most. */
  void settle(Instant now, Duration within) {
    if (supervisor != null) {
      supervisor.settle(now, within);
    }
  }

  /** Returns whether the supervisor took an answer (the status may have changed). */
  boolean tick(Instant now) {
    return supervisor != null && supervisor.tick(now);
  }

  /** When the supervisor has something to do next; {@link Instant#MAX} without one. */
  Instant nextDue() {
    return supervisor == null ? Instant.MAX : supervisor.nextDue();
  }

  /** How often the agent restarted istio.service since it started (for a changed configuration). */
  long restartsDone() {
    return restartsBefore + (supervisor == null ? 0 : supervisor.restartsDone());
  }

  AgentStatus.Sidecar status() {
    return supervisor == null ? UNMANAGED : supervisor.status();
  }

  /** Stops watching (istio.service is left running). */
  @Override
  public void close() {
    if (supervisor != null) {
      supervisor.close();
    }
  }
}
