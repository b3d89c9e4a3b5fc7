package io.istiovmagent.bench;

import java.io.IOException;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.Response;

/**
 * Times every HTTP call of the simulated agents through the event seam of the agent's own client
 * ({@code HttpsClients.client(..., EventListener.Factory)}); it only observes. A call's duration is what the agent
 * waits: from its start to its end, with the TCP connect and TLS handshake of a new connection, the request, the
 * answer and its body, and the fleet JVM's own scheduling delays (it runs at SCHED_IDLE).
 */
final class CallRecorder implements EventListener.Factory {
  private final FleetStats stats;

  CallRecorder(FleetStats stats) {
    this.stats = stats;
  }

  @Override
  public EventListener create(Call call) {
    String path = call.request().url().encodedPath();
    return new Timer(path.equals("/v1/health") ? FleetStats.Kind.HEALTH
        : path.startsWith("/v1/enroll/") ? FleetStats.Kind.ENROL : FleetStats.Kind.BUNDLE);
  }

  private final class Timer extends EventListener {
    private final FleetStats.Kind kind;
    private long start;
    private int code = -1;

    Timer(FleetStats.Kind kind) {
      this.kind = kind;
    }

    @Override
    public void callStart(Call call) {
      start = System.nanoTime();
      stats.attempt(kind, start);
    }

    @Override
    public void responseHeadersEnd(Call call, Response response) {
      code = response.code();
    }

    @Override
    public void callEnd(Call call) {
      if (code >= 0) {
        stats.answered(start, System.nanoTime() - start, code);
      }
    }

    @Override
    public void callFailed(Call call, IOException e) {
      stats.failed(start, kind + " " + e.getClass().getSimpleName() + ": "
          + String.valueOf(e.getMessage()).replaceAll("[0-9]+", "N"));
    }
  }
}
