package io.istiovmagent.daemon;

import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceManagerException;
import io.istiovmagent.sidecar.ServiceState;

/**
 * One look at the unit, on the supervisor's lane: systemd's answer (null when it gave none), what was done of the
 * intent (enable and start for a first bundle, else a restart), and why it stopped short: systemctl failed, or the
 * service manager threw (a bug, rethrown on the loop).
 */
record SidecarLook(ServiceState state, boolean enabled, boolean started, boolean restarted,
    ServiceManagerException failure, RuntimeException bug) {

  /** Blocks for as long as systemctl does (up to three calls): on the lane, never on the loop. */
  static SidecarLook run(ServiceManager services, String unit, SidecarIntent.Snapshot want) {
    ServiceState s = null;
    boolean enabled = false;
    boolean started = false;
    boolean restarted = false;
    try {
      s = services.state(unit);
      if (s.installed() && want.start()) {
        if (!s.enabled()) {
          services.enable(unit);
          enabled = true;
        }
        if (!s.running()) {
          services.start(unit);
          started = true;
        }
      } else if (s.installed() && want.restart()) {
        services.restart(unit);
        restarted = true;
      }
      return new SidecarLook(s, enabled, started, restarted, null, null);
    } catch (ServiceManagerException e) {
      return new SidecarLook(s, enabled, started, restarted, e, null);
    } catch (RuntimeException e) {
      return new SidecarLook(s, enabled, started, restarted, null, e);
    }
  }
}
