package io.istiovmagent.report;

import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.status.AgentStatus;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/** The states the reporter took while reports were failing: they ride along with the next report, not lost. */
final class MissedTransitions {
  /** At most this many undelivered transitions ride along; older ones are dropped. */
  static final int MAX = 20;

  private final Deque<HealthReport.Transition> missed = new ArrayDeque<>();
  private ReportPolicy.Key pendingKey;
  private AgentStatus pendingStatus;

  /** The status about to be sent; the one before it is kept (bounded) when it changed while reports were failing. */
  void track(AgentStatus s, boolean failing) {
    ReportPolicy.Key key = ReportPolicy.Key.of(s);
    if (pendingStatus != null && !key.equals(pendingKey) && failing) {
      missed.addLast(ReportBuilder.transition(pendingStatus));
      while (missed.size() > MAX) {
        missed.removeFirst();
      }
    }
    pendingKey = key;
    pendingStatus = s;
  }

  List<HealthReport.Transition> list() {
    return List.copyOf(missed);
  }

  /** A report went through: what it carried was delivered. */
  void delivered() {
    missed.clear();
  }
}
