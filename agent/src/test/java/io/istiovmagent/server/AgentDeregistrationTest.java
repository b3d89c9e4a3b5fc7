package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.GROUP;
import static io.istiovmagent.server.ServerFixture.NS;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static io.istiovmagent.server.ServerFixture.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.cli.Main;
import io.istiovmagent.testing.TestBundles;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code istio-vm-agent deregister} against the real onboarding service (a directory of istioctl output, with VM
 * credentials it knows): the VM leaves the service's VM list, the other VMs stay, and no credential is printed.
 */
class AgentDeregistrationTest {
  private static final String VM1 = "5f0c6d1e000040008000000000000001";
  private static final String VM2 = "5f0c6d1e000040008000000000000002";
  private static final String SECRET = "0123456789abcdef0123456789abcdef";
  private static final String CRED1 = "vmc.vm-namespace." + VM1 + "." + SECRET;

  @TempDir
  Path tmp;

  record Run(int code, String out, String err) {}

  @Test
  void theDeregisteredVmLeavesTheVmListAndASecondRunIsHarmless() throws Exception {
    Map<String, Grant> creds = Map.of(CRED1, new Grant.Vm(NS, GROUP, VM1));
    try (ServerFixture f = ServerFixture.start(tmp.resolve("service"),
        b -> b.credentials(bearer -> Optional.ofNullable(creds.get(bearer))))) {
      assertEquals(200, f.post("/v1/health", CRED1, report(VM1, "STOPPING", 9, null)).code());
      assertEquals(200, f.post("/v1/health", TOKEN, report(VM2, "HEALTHY", 3, null)).code());
      assertEquals(List.of(VM1, VM2), listed(f));
      Path root = vm(f, VM1, CRED1);

      Run r = agent("--root", root.toString(), "deregister");

      assertEquals(0, r.code(), r.err());
      assertEquals("deregistered machine " + VM1 + " of vm-namespace/hello-vm with 127.0.0.1:" + f.server.port()
          + "\n", r.out());
      assertEquals("", r.err());
      assertEquals(List.of(VM2), listed(f));
      assertTrue(f.log().contains("<5>deregistered machine " + VM1 + " of vm-namespace/hello-vm at the request of "
          + "its own credential\n"), f.log());
      assertTrue(Files.isRegularFile(root.resolve("var/lib/istio-vm-agent/credential")), "the credential is kept");

      Run again = agent("--root", root.toString(), "deregister");

      assertEquals(0, again.code(), again.err());
      assertEquals(r.out(), again.out(), "idempotent: the service answers 204 again");
      assertEquals(List.of(VM2), listed(f));
      for (String text : List.of(r.out(), r.err(), again.out(), again.err(), f.log())) {
        assertFalse(text.contains(SECRET), text);
      }
    }
  }

  @Test
  void aVmWhoseCredentialTheServiceDoesNotKnowIsRefusedAndStaysListed() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp.resolve("service"),
        b -> b.credentials(bearer -> Optional.empty()))) {
      assertEquals(200, f.post("/v1/health", TOKEN, report(VM1, "HEALTHY", 1, null)).code());
      Path root = vm(f, VM1, CRED1);

      Run r = agent("--root", root.toString(), "deregister");

      assertEquals(77, r.code(), r.out() + r.err());
      assertTrue(r.err().startsWith("127.0.0.1:" + f.server.port() + " refused the VM's credential (HTTP 401): a "
          + "valid credential is required"), r.err());
      assertTrue(r.err().contains("kubectl -n vm-namespace delete workloadentry hello-vm-" + VM1), r.err());
      assertEquals(List.of(VM1), listed(f));
      assertFalse(r.out().contains(SECRET) || r.err().contains(SECRET), r.err());
    }
  }

  /** A VM root as the agent leaves it: its configuration, machine id and stored credential. */
  private Path vm(ServerFixture f, String machineId, String credential) throws IOException {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.writeString(root.resolve("etc/machine-id"), machineId + "\n");
    Path ca = Files.writeString(tmp.resolve("service.pem"), f.server.tls().certificatePem());
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "bundle:\n  source: "
        + f.url("/v1/bundle/" + NS + "/" + GROUP) + "\n  caFile: " + ca + "\n");
    Path state = Files.createDirectories(root.resolve("var/lib/istio-vm-agent"));
    Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
    Path file = Files.writeString(state.resolve("credential"), credential + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return root;
  }

  private static Run agent(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  private static List<String> listed(ServerFixture f) throws IOException {
    ServerFixture.Reply vms = f.get("/v1/vms", ADMIN_TOKEN);
    assertEquals(200, vms.code(), vms.text());
    List<String> ids = new ArrayList<>();
    vms.json().get("vms").forEach(v -> ids.add(v.get("machineId").asText()));
    return ids;
  }
}
