package io.istiovmagent.status;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Objects;

/**
 * istio.service as the agent sees it. Decisions match on the type, never on its text; status.json and the health
 * report carry its label, as they always have: "active/running" (systemd's ActiveState/SubState), "not-installed".
 */
public sealed interface SidecarState permits SidecarState.Agent, SidecarState.Unit {

  /** The label in status.json and reports. */
  @JsonValue
  String label();

  /** States the agent names itself: systemd did not (or could not) say. */
  enum Agent implements SidecarState {
    /** sidecar.manage is false. */
    UNMANAGED("unmanaged"),
    /** No systemd runs here, so nothing is supervised. */
    NO_SYSTEMD("no-systemd"),
    /** systemd knows no istio.service: istio-sidecar is not installed. */
    NOT_INSTALLED("not-installed"),
    /** Not looked at yet, or systemd could not be asked. */
    UNKNOWN("unknown");

    private final String label;

    Agent(String label) {
      this.label = label;
    }

    @Override
    public String label() {
      return label;
    }

    @Override
    public String toString() {
      return label;
    }
  }

  /** What systemd says: the unit's ActiveState and SubState. */
  record Unit(String activeState, String subState) implements SidecarState {
    public Unit {
      Objects.requireNonNull(activeState, "activeState == null");
      Objects.requireNonNull(subState, "subState == null");
    }

    /** ActiveState "active": up (running, exited, ...), as opposed to failed, inactive or (re)starting. */
    public boolean active() {
      return activeState.equals("active");
    }

    @Override
    public String label() {
      return subState.isEmpty() ? activeState : activeState + "/" + subState;
    }

    @Override
    public String toString() {
      return label();
    }
  }

  /** The state a label stands for (status.json as written by this or an earlier agent); null for null. */
  @JsonCreator
  static SidecarState of(String label) {
    if (label == null) {
      return null;
    }
    for (Agent a : Agent.values()) {
      if (a.label.equals(label)) {
        return a;
      }
    }
    int slash = label.indexOf('/');
    return slash < 0 ? new Unit(label, "") : new Unit(label.substring(0, slash), label.substring(slash + 1));
  }
}
