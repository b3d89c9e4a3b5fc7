package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.istiovmagent.daemon.SidecarPollPolicy.Watch;
import io.istiovmagent.sidecar.Readiness;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.util.Durations;
import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SidecarPollPolicyTest {
  private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  private static Instant at(String offset) {
    return offset == null ? null : T0.plus(Durations.parse(offset));
  }

  private static ServiceState unit(String state) {
    return switch (state) {
      case "failed-look" -> null;
      case "running" -> new ServiceState("loaded", "active", "running", 4711, 0, "enabled");
      case "auto-restart" -> new ServiceState("loaded", "activating", "auto-restart", 0, 1, "enabled");
      case "failed" -> new ServiceState("loaded", "failed", "failed", 0, 3, "enabled");
      case "stopping" -> new ServiceState("loaded", "deactivating", "stop-sigterm", 4711, 0, "enabled");
      case "inactive" -> new ServiceState("loaded", "inactive", "dead", 0, 0, "enabled");
      case "not-installed" -> new ServiceState("not-found", "inactive", "dead", 0, 0, "");
      default -> throw new IllegalArgumentException(state);
    };
  }

  /** Offsets from T0; "now" is at once (Instant.MIN); "-" for none. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // case                                                      lastLook | unit          | watch    | exitAt | asked | next
      "never looked: at once                                       | -        | -             | NONE     | -      | false | now",
      "running and watched: the safety poll only                   | 10s      | running       | WATCHING | -      | false | 70s",
      "running, cannot be watched: every second, as before         | 10s      | running       | NONE     | -      | false | 11s",
      "the watched process exited: at once                         | 10s      | running       | EXITED   | -      | false | now",
      "an exit while the unit was seen stopping: at once           | 10s      | stopping      | EXITED   | -      | false | now",
      "exited, systemd still names it: catch up in 100 ms          | 10s      | running       | GONE     | 10s    | false | 10s100ms",
      "still named 1.9 s after the exit: still catching up         | 11s900ms | running       | GONE     | 10s    | false | 12s",
      "still named 2 s after the exit: back to every second        | 12s      | running       | GONE     | 10s    | false | 13s",
      "gone before it could be watched: catch up                   | 10s      | running       | GONE     | 10s    | false | 10s100ms",
      "auto-restart (between the death and the restart): every 1 s | 10s      | auto-restart  | NONE     | 9s     | false | 11s",
      "failed: every second, to see it come back                   | 10s      | failed        | NONE     | -      | false | 11s",
      "stopping: every second                                      | 10s      | stopping      | WATCHING | -      | false | 11s",
      "inactive: every second                                      | 10s      | inactive      | NONE     | -      | false | 11s",
      "the look failed: again in a second                          | 10s      | failed-look   | WATCHING | -      | false | 11s",
      "istio-sidecar not installed: steady, the safety poll        | 10s      | not-installed | NONE     | -      | false | 70s",
      "a start or restart to make: at once                         | 10s      | running       | WATCHING | -      | true  | now",
      "the service manager signalled a change: at once             | 10s      | not-installed | NONE     | -      | true  | now",
  })
  void schedulesTheNextLook(String name, String lastLook, String state, Watch watch, String exitAt, boolean asked,
      String next) {
    Instant expected = next.equals("now") ? Instant.MIN : at(next);
    assertEquals(expected, SidecarPollPolicy.nextLook(at(lastLook), state == null ? null : unit(state), watch,
        at(exitAt), asked));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      // case                                            lastProbe | readiness | next
      "never probed (this main process): at once         | -         | -         | now",
      "ready: every 15 s                                 | 10s       | ready     | 25s",
      "not ready: every second, to report ready promptly | 10s       | not-ready | 11s",
  })
  void schedulesTheNextProbe(String name, String lastProbe, String readiness, String next) {
    Readiness r = readiness == null ? null : readiness.equals("ready") ? Readiness.READY
        : new Readiness.NotReady("HTTP 503");
    Instant expected = next.equals("now") ? Instant.MIN : at(next);
    assertEquals(expected, SidecarPollPolicy.nextProbe(at(lastProbe), r));
  }
}
