package io.istiovmagent.sidecar;

import java.util.Objects;

/**
 * What systemd says about a unit at one moment, as {@code systemctl show} prints it: LoadState, ActiveState,
 * SubState, MainPID (0 when there is no main process), NRestarts (automatic restarts since the last manual start)
 * and UnitFileState (empty when systemd did not say).
 */
public record ServiceState(String loadState, String activeState, String subState, long mainPid, long nRestarts,
    String unitFileState) {

  public ServiceState {
    Objects.requireNonNull(loadState, "loadState == null");
    Objects.requireNonNull(activeState, "activeState == null");
    Objects.requireNonNull(subState, "subState == null");
    Objects.requireNonNull(unitFileState, "unitFileState == null");
    if (mainPid < 0 || nRestarts < 0) {
      throw new IllegalArgumentException("mainPid and nRestarts are never negative: " + mainPid + ", " + nRestarts);
    }
  }

  /** Whether a unit file exists at all: systemd reports every name it is asked about, known or not. */
  public boolean installed() {
    return !loadState.equals("not-found");
  }

  /** Whether the main process is up: active, with a running main process. */
  public boolean running() {
    return activeState.equals("active") && subState.equals("running") && mainPid != 0;
  }

  /** Whether the unit will start at boot; "enabled-runtime" and "alias" do not survive a reboot or are not ours. */
  public boolean enabled() {
    return unitFileState.equals("enabled");
  }

  /** One line for logs and reports: "active/running pid 1234, 3 restarts, enabled". */
  public String summary() {
    if (!installed()) {
      return "not installed";
    }
    return activeState + "/" + subState + (mainPid != 0 ? " pid " + mainPid : "") + ", " + nRestarts
        + (nRestarts == 1 ? " restart" : " restarts") + (unitFileState.isEmpty() ? "" : ", " + unitFileState);
  }
}
