package io.istiovmagent.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;

/** The request logs of every endpoint of the service (P5 has one, P7 a replica each), read and added up. */
final class EndpointLogs {
  private final List<EndpointProcess> endpoints;
  private final List<EndpointLog> logs = new ArrayList<>();
  private final int seconds;

  EndpointLogs(List<EndpointProcess> endpoints, int seconds) {
    this.endpoints = endpoints;
    this.seconds = seconds;
    endpoints.forEach(e -> logs.add(new EndpointLog(seconds)));
  }

  /** Reads each endpoint's current log; a negative second only skips what is there (requests before second 0). */
  void read(int s) throws IOException {
    for (int i = 0; i < logs.size(); i++) {
      logs.get(i).read(endpoints.get(i).log(), s);
    }
  }

  int[] answered() {
    return sum(true);
  }

  int[] shed() {
    return sum(false);
  }

  /** The answered requests of one endpoint, per second. */
  int[] answered(int endpoint) {
    return logs.get(endpoint).answered();
  }

  long[] micros(int from, int to, boolean fromHandOver) {
    return micros(from, to, fromHandOver, null);
  }

  /** Of the bundle fetches only ({@code true}), the other requests ({@code false}) or all (null). */
  long[] micros(int from, int to, boolean fromHandOver, Boolean bundles) {
    return logs.stream().flatMapToLong(l -> LongStream.of(l.micros(from, to, fromHandOver, bundles))).toArray();
  }

  private int[] sum(boolean answered) {
    int[] out = new int[seconds];
    for (EndpointLog l : logs) {
      int[] a = answered ? l.answered() : l.shed();
      for (int s = 0; s < seconds; s++) {
        out[s] += a[s];
      }
    }
    return out;
  }
}
