package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `status` says whom HTTPS trusts: the system store or the runtime's list, caFile, or caFile alone. */
class StatusTrustTest {
  @TempDir
  Path root;

  @BeforeEach
  void aRunningAgent() throws Exception {
    Path file = Files.createDirectories(root.resolve("run/istio-vm-agent")).resolve("status.json");
    Files.writeString(file, "{\"format\":1,\"pid\":" + ProcessHandle.current().pid() + ",\"phase\":\"RUNNING\","
        + "\"health\":\"HEALTHY\"}");
  }

  @Test
  void showsTheSystemStoreAndCaFile() throws Exception {
    Files.createDirectories(root.resolve("etc/ssl/certs"));
    Files.writeString(root.resolve("etc/ssl/certs/ca-certificates.crt"), "");
    config("bundle:\n  caFile: /etc/istio-vm-agent/ca.pem\n");
    assertTrue(status().contains("TLS trust          the system store /etc/ssl/certs/ca-certificates.crt + "
        + "bundle.caFile /etc/istio-vm-agent/ca.pem"), status());
  }

  @Test
  void showsTheRuntimesListWhenTheStoreIsAbsent() throws Exception {
    assertTrue(status().contains("TLS trust          the agent's runtime's own CA list (no "
        + "/etc/ssl/certs/ca-certificates.crt)"), status());
  }

  @Test
  void showsAPinnedCaFile() throws Exception {
    config("bundle:\n  caFile: /etc/istio-vm-agent/ca.pem\n  trust: caFile\n");
    assertTrue(status().contains("TLS trust          bundle.caFile /etc/istio-vm-agent/ca.pem only "
        + "(bundle.trust: caFile)"), status());
  }

  private void config(String yaml) throws Exception {
    Files.writeString(Files.createDirectories(root.resolve("etc/istio-vm-agent")).resolve("config.yaml"), yaml);
  }

  private String status() {
    StringWriter out = new StringWriter();
    Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), "--root",
        root.toString(), "status");
    return out.toString();
  }
}
