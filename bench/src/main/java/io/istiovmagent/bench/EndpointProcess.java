package io.istiovmagent.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * `istio-vm-onboarding serve`, through the launcher bench/lib.sh writes (java -jar the service's jar, exec'd), as its
 * own process at the bench's own priority, so that its CPU and memory are its own in /proc. {@code --debug}: one
 * log line per request with the endpoint's own timing, which {@link FleetBench} reads. Each start writes a new log,
 * NAME-N.log (P5's one endpoint is {@code endpoint}, P7's replicas {@code replica-a}, ...).
 */
final class EndpointProcess {
  private final String name;
  private final Path work;
  private final Path onboarding;
  private final String javaOpts;
  private final List<String> serveArgs;
  private final int port;
  private Process process;
  private int generation;

  EndpointProcess(String name, Path work, Path onboarding, String javaOpts, List<String> serveArgs, int port) {
    this.name = name;
    this.work = work;
    this.onboarding = onboarding;
    this.javaOpts = javaOpts;
    this.serveArgs = serveArgs;
    this.port = port;
  }

  /** Starts a new endpoint process (the launcher execs the JVM: this is its pid); the previous one must be stopped. */
  void start() throws IOException {
    generation++;
    List<String> cmd = new ArrayList<>(List.of(onboarding.toString(), "serve", "--debug"));
    cmd.addAll(serveArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log().toFile());
    pb.environment().put("ISTIO_VM_ONBOARDING_JAVA_OPTS", javaOpts);
    process = pb.start();
  }

  /** Waits until the endpoint accepts connections; false if it exited or did not within {@code max}. */
  boolean awaitReady(Duration max) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        return false;
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return true;
      } catch (IOException notYet) {
        Thread.sleep(50);
      }
    }
    return false;
  }

  /** SIGTERM (the endpoint's graceful stop, as systemctl stop), then SIGKILL after 20 s. */
  void stop() throws InterruptedException {
    signalStop();
    awaitStop();
  }

  /** SIGTERM, not waiting: several endpoints stopped at once ({@link #awaitStop} then). */
  void signalStop() {
    if (process != null) {
      process.destroy();
    }
  }

  /** Waits for the endpoint to end after {@link #signalStop}, SIGKILL after 20 s. */
  void awaitStop() throws InterruptedException {
    if (process == null) {
      return;
    }
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(5, TimeUnit.SECONDS);
    }
    process = null;
  }

  long pid() {
    return process == null ? -1 : process.pid();
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  Path log() {
    return work.resolve(name + "-" + generation + ".log");
  }

  String name() {
    return name;
  }

  int port() {
    return port;
  }
}
