package io.istiovmagent.bench;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * FleetBench's command line: the phases' lengths, the fleet's size, the onboarding service, the output; and which
 * service the fleet meets: the directory mode's one endpoint (P5), or the Kubernetes mode's replicas behind a relay
 * with the mock API server (P7), whose JVM runs on {@code mockClasspath}, and P7's count of sidecar flips.
 */
record FleetOptions(int agents, int ramp, int settle, int steady, int outage, int recovery, long seed, Path onboarding,
    Path work, Path results, String endpointJavaOpts, boolean kubernetes, int replicas, String mockClasspath,
    String mockJavaOpts, int flips) {

  /** The figure's name in bench/run's table and results files. */
  String figure() {
    return kubernetes ? "P7" : "P5";
  }

  static FleetOptions parse(String[] args) {
    Map<String, String> a = new LinkedHashMap<>(Map.of("agents", "10000", "ramp", "180", "settle", "60", "steady",
        "120", "outage", "300", "recovery", "300", "seed", "1", "endpoint-java-opts", "", "mode", "directory",
        "replicas", "2"));
    a.put("mock-classpath", "");
    a.put("mock-java-opts", "");
    a.put("flips", "-1"); // P7's sidecar flips in the steady window; -1: 1 % of the fleet
    List<String> required = List.of("onboarding", "work", "results");
    for (int i = 0; i < args.length; i += 2) {
      String k = args[i].replaceFirst("^--", "");
      if (!args[i].startsWith("--") || i + 1 >= args.length || !(a.containsKey(k) || required.contains(k))) {
        throw new IllegalArgumentException("usage: FleetBench --onboarding ISTIO_VM_ONBOARDING --work DIR --results "
            + "DIR [--agents N --ramp S --settle S --steady S --outage S --recovery S --seed N "
            + "--endpoint-java-opts '...' --mode directory|kubernetes --replicas N --mock-classpath CP "
            + "--mock-java-opts '...' --flips N]; not " + args[i]);
      }
      a.put(k, args[i + 1]);
    }
    for (String k : required) {
      if (!a.containsKey(k)) {
        throw new IllegalArgumentException("--" + k + " is required");
      }
    }
    boolean kubernetes = switch (a.get("mode")) {
      case "directory" -> false;
      case "kubernetes" -> true;
      default -> throw new IllegalArgumentException("--mode is directory (P5) or kubernetes (P7), not "
          + a.get("mode"));
    };
    if (kubernetes && a.get("mock-classpath").isEmpty()) {
      throw new IllegalArgumentException("--mode kubernetes needs --mock-classpath (bench/target/classes and lib)");
    }
    int agents = Integer.parseInt(a.get("agents"));
    int flips = Integer.parseInt(a.get("flips"));
    return new FleetOptions(agents, Integer.parseInt(a.get("ramp")),
        Integer.parseInt(a.get("settle")), Integer.parseInt(a.get("steady")), Integer.parseInt(a.get("outage")),
        Integer.parseInt(a.get("recovery")), Long.parseLong(a.get("seed")), Path.of(a.get("onboarding")),
        Path.of(a.get("work")), Path.of(a.get("results")), a.get("endpoint-java-opts"), kubernetes,
        Integer.parseInt(a.get("replicas")), a.get("mock-classpath"), a.get("mock-java-opts"),
        flips < 0 ? agents / 100 : flips);
  }
}
