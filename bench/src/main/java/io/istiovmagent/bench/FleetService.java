package io.istiovmagent.bench;

import java.io.IOException;
import java.util.List;

/**
 * What a fleet run's agents meet behind one port: P5's one endpoint over a directory of bundles
 * ({@link DirectoryService}), or P7's replicas in the Kubernetes mode with their API server
 * ({@link KubernetesService}).
 * {@link FleetBench} runs the phases, the fleet and the figures common to both; this starts, stops and restarts the
 * service, samples its own parts and adds its own figures.
 */
interface FleetService extends AutoCloseable {
  /** The phases of a run, in seconds of the fleet's clock: the steady window [from, to), the outage, the end. */
  record Phases(int steadyFrom, int steadyTo, int stoppedAt, int restartedAt, int end) {}

  /** It could not start (again); the message holds what its log said. */
  final class Failed extends Exception {
    private static final long serialVersionUID = 1L;

    Failed(String message) {
      super(message);
    }
  }

  /** Sets it up and starts it; returns the port the agents connect to. */
  int start() throws Exception;

  /** What the fleet JVMs are told besides the port ({@code --namespace}, {@code --state}, ...). */
  List<String> fleetArgs();

  /** The endpoints that answer the agents (their request logs, their processes); the same objects throughout. */
  List<EndpointProcess> endpoints();

  /** Its own parts sampled each second besides the endpoints' sum (P7: each replica, the API server, the relay). */
  List<ProcSeries> parts(int seconds);

  /** Second 0 is {@code t0Millis} (epoch ms); the run counts {@code seconds}. */
  void begin(long t0Millis, int seconds);

  /** Once a second, after the endpoints' logs: what else it reads (P7: the API server's request log). */
  void sample(int second) throws IOException;

  /** Added to the progress line every 10 s. */
  String describe(int second);

  /** The outage: every endpoint stopped (SIGTERM, their graceful stop), at once. */
  void outage() throws InterruptedException;

  /** After the outage: every endpoint started again and accepting connections. */
  void restart() throws Failed, IOException, InterruptedException;

  /** Its own figures and timeline columns, once the run is over and the fleet has stopped. */
  void results(FleetReport.Results r, Phases p, FleetStats stats, EndpointLogs logs, Timeline timeline)
      throws IOException, InterruptedException;

  /** Stops everything it started. */
  @Override
  void close();
}
