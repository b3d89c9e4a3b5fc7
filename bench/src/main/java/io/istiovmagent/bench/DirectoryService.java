package io.istiovmagent.bench;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * P5's service: one `istio-vm-onboarding serve` over a directory of istioctl output for one group, with one join
 * token in a tokens file, which every agent presents on every request.
 */
final class DirectoryService implements FleetService {
  private final FleetOptions o;
  private EndpointProcess endpoint;

  DirectoryService(FleetOptions o) {
    this.o = o;
  }

  @Override
  public int start() throws Exception {
    Path work = o.work();
    SplittableRandom random = new SplittableRandom(o.seed());
    Path group = work.resolve("bundles").resolve(FleetBench.NS).resolve(FleetBench.GROUP);
    Files.createDirectories(group);
    for (Map.Entry<BundleFile, byte[]> e : SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now())
        .entrySet()) {
      Files.write(group.resolve(e.getKey().fileName()), e.getValue());
    }
    byte[] b = new byte[24];
    random.nextBytes(b);
    String join = "jt-" + HexFormat.of().formatHex(b);
    BenchFiles.secret(work.resolve("join-token"), join + "\n");
    BenchFiles.secret(work.resolve("tokens.yaml"), "tokens:\n  - token: " + join + "\n    namespace: "
        + FleetBench.NS + "\n    group: " + FleetBench.GROUP + "\n");
    BenchFiles.certificates(work);
    int port = BenchFiles.freePort();
    endpoint = new EndpointProcess("endpoint", work, o.onboarding(), o.endpointJavaOpts(), List.of("--bundles",
        work.resolve("bundles").toString(), "--tokens", work.resolve("tokens.yaml").toString(), "--listen",
        "127.0.0.1:" + port, "--cert", work.resolve("endpoint.pem").toString(), "--key",
        work.resolve("endpoint-key.pem").toString()), port);
    endpoint.start();
    if (!endpoint.awaitReady(Duration.ofSeconds(90))) {
      throw new Failed("the endpoint did not start; its log:\n" + Files.readString(endpoint.log()));
    }
    return port;
  }

  @Override
  public List<String> fleetArgs() {
    return List.of();
  }

  @Override
  public List<EndpointProcess> endpoints() {
    return List.of(endpoint);
  }

  @Override
  public List<ProcSeries> parts(int seconds) {
    return List.of();
  }

  @Override
  public void begin(long t0Millis, int seconds) {}

  @Override
  public void sample(int second) {}

  @Override
  public String describe(int second) {
    return "";
  }

  @Override
  public void outage() throws InterruptedException {
    endpoint.stop();
  }

  @Override
  public void restart() throws Failed, IOException, InterruptedException {
    endpoint.start();
    if (!endpoint.awaitReady(Duration.ofSeconds(90))) {
      throw new Failed("the endpoint did not start again; its log:\n" + Files.readString(endpoint.log()));
    }
  }

  @Override
  public void results(FleetReport.Results r, Phases p, FleetStats stats, EndpointLogs logs, Timeline timeline) {}

  @Override
  public void close() {
    try {
      if (endpoint != null) {
        endpoint.stop();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
