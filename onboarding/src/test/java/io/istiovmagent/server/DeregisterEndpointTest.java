package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.GROUP;
import static io.istiovmagent.server.ServerFixture.NS;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static io.istiovmagent.server.ServerFixture.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.protocol.HealthReport;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** DELETE /v1/vms/{namespace}/{group}/{machineId} over real HTTPS: who may, what is forgotten, what it answers. */
class DeregisterEndpointTest {
  private static final String VM1 = "5f0c6d1e000040008000000000000001";
  private static final String VM2 = "5f0c6d1e000040008000000000000002";
  /** VM credentials as the Kubernetes mode hands them out; the fake authenticator below knows these two. */
  private static final String CRED1 = "vmc.vm-namespace." + VM1 + ".0123456789abcdef0123456789abcdef";
  private static final String CRED2 = "vmc.vm-namespace." + VM2 + ".fedcba9876543210fedcba9876543210";

  /** A sink that records what it is asked and answers what the test says. */
  static final class RecordingSink implements HealthSink {
    final List<String> deregistered = new CopyOnWriteArrayList<>();
    volatile Deregistration answer = new Deregistration.Removed();

    @Override
    public void accepted(Grant.Workload grant, HealthReport report, Instant receivedAt) {}

    @Override
    public Deregistration deregister(String namespace, String group, String machineId) {
      deregistered.add(namespace + "/" + group + "/" + machineId);
      return answer;
    }
  }

  @TempDir
  Path tmp;

  private final RecordingSink sink = new RecordingSink();
  private ServerFixture f;

  @BeforeEach
  void start() throws Exception {
    Map<String, Grant> creds = Map.of(CRED1, new Grant.Vm(NS, GROUP, VM1), CRED2, new Grant.Vm(NS, GROUP, VM2));
    f = ServerFixture.start(tmp, b -> b.credentials(bearer -> Optional.ofNullable(creds.get(bearer)))
        .healthSink(sink));
    assertEquals(200, f.post("/v1/health", CRED1, report(VM1, "HEALTHY", 1, null)).code());
    assertEquals(200, f.post("/v1/health", CRED2, report(VM2, "HEALTHY", 1, null)).code());
    assertEquals(List.of(VM1, VM2), listed());
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void aVmDeregistersItselfWith204AndLeavesTheVmListAndTheSink() throws Exception {
    ServerFixture.Reply r = delete(path(NS, GROUP, VM1), CRED1);

    assertEquals(204, r.code(), r.text());
    assertEquals(0, r.body().length);
    assertEquals(List.of(VM2), listed());
    assertEquals(List.of(NS + "/" + GROUP + "/" + VM1), sink.deregistered);
    assertEquals(List.of(), f.server.registry().history(new VmRegistry.Key(NS, GROUP, VM1)), "its history too");
    List<String> notices = f.log().lines().filter(l -> l.startsWith("<5>deregistered")).toList();
    assertEquals(List.of("<5>deregistered machine " + VM1 + " of vm-namespace/hello-vm at the request of its own "
        + "credential"), notices);
    assertFalse(f.log().contains(CRED1) || f.log().contains("0123456789abcdef0123456789abcdef"), f.log());
  }

  @Test
  void aSecondDeregistrationIs204TooAndSaysNothingWasThere() throws Exception {
    assertEquals(204, delete(path(NS, GROUP, VM1), CRED1).code());
    sink.answer = new HealthSink.Deregistration.Absent();

    ServerFixture.Reply again = delete(path(NS, GROUP, VM1), CRED1);

    assertEquals(204, again.code(), again.text());
    assertTrue(f.log().contains("<5>deregistered machine " + VM1 + " of vm-namespace/hello-vm at the request of its "
        + "own credential (nothing was registered for it: never, or deregistered before)"), f.log());
  }

  @Test
  void whatOnlyTheSinkKeptCountsAsRemoved() throws Exception {
    String vm3 = "5f0c6d1e000040008000000000000003";

    assertEquals(204, delete(path(NS, GROUP, vm3), ADMIN_TOKEN).code());

    assertTrue(f.log().contains("<5>deregistered machine " + vm3 + " of vm-namespace/hello-vm at the request of an "
        + "admin token\n"), f.log());
  }

  @Test
  void anotherMachinesCredentialIs403AndChangesNothing() throws Exception {
    ServerFixture.Reply r = delete(path(NS, GROUP, VM2), CRED1);

    assertEquals(403, r.code(), r.text());
    assertEquals("this credential is machine " + VM1 + "'s of vm-namespace/hello-vm; a VM deregisters itself only, "
        + "not machine " + VM2 + " of vm-namespace/hello-vm", r.json().get("error").asText());
    assertEquals(List.of(VM1, VM2), listed());
    assertEquals(List.of(), sink.deregistered);
    assertEquals(403, delete(path(NS, "other-vm", VM1), CRED1).code(), "its machine id in another group");
    assertEquals(403, delete(path("other-ns", GROUP, VM1), CRED1).code(), "its machine id in another namespace");
    assertEquals(List.of(), sink.deregistered);
  }

  @Test
  void aJoinTokenIs403AndTheReasonSaysToUseTheVmsOwnCredential() throws Exception {
    ServerFixture.Reply r = delete(path(NS, GROUP, VM1), TOKEN);

    assertEquals(403, r.code(), r.text());
    JsonNode body = r.json();
    assertEquals(1, body.size(), r.text());
    String reason = body.get("error").asText();
    assertTrue(reason.contains("a VM deregisters with its own credential"), reason);
    assertTrue(reason.contains("enrolling first"), reason);
    assertFalse(reason.contains(TOKEN), reason);
    assertEquals(List.of(VM1, VM2), listed());
    assertEquals(List.of(), sink.deregistered);
  }

  @Test
  void anAdminTokenDeregistersAnyVm() throws Exception {
    ServerFixture.Reply r = delete(path(NS, GROUP, VM2), ADMIN_TOKEN);

    assertEquals(204, r.code(), r.text());
    assertEquals(List.of(VM1), listed());
    assertEquals(List.of(NS + "/" + GROUP + "/" + VM2), sink.deregistered);
    assertTrue(f.log().contains("<5>deregistered machine " + VM2 + " of vm-namespace/hello-vm at the request of an "
        + "admin token\n"), f.log());
  }

  @Test
  void aClusterThatCannotBeAskedIs503WithRetryAfterAndTheVmStaysListed() throws Exception {
    sink.answer = new HealthSink.Deregistration.Unavailable("the Kubernetes API does not answer (connect timed out)");

    ServerFixture.Reply r = delete(path(NS, GROUP, VM1), CRED1);

    assertEquals(503, r.code(), r.text());
    assertEquals(Long.toString(DeregisterEndpoint.RETRY_AFTER_SECONDS), r.header("Retry-After"));
    assertTrue(r.json().get("error").asText().contains("cannot deregister machine " + VM1 + " of vm-namespace/"
        + "hello-vm now: the Kubernetes API does not answer (connect timed out)"), r.text());
    assertEquals(List.of(VM1, VM2), listed(), "still registered in the cluster, so still listed");
    assertTrue(f.log().contains("<4>cannot deregister machine " + VM1), f.log());
    assertFalse(f.log().contains("<5>deregistered"), f.log());
  }

  @Test
  void withoutASinkTheVmListAloneForgetsTheVm() throws Exception {
    Map<String, Grant> creds = Map.of(CRED1, new Grant.Vm(NS, GROUP, VM1));
    try (ServerFixture plain = ServerFixture.start(tmp.resolve("plain"),
        b -> b.credentials(bearer -> Optional.ofNullable(creds.get(bearer))))) {
      assertEquals(200, plain.post("/v1/health", CRED1, report(VM1, "STOPPING", 7, null)).code());

      assertEquals(204, plain.call(deleteRequest(plain, path(NS, GROUP, VM1), CRED1)).code());

      assertEquals(0, plain.server.registry().size());
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "/v1/vms/vm-namespace/hello-vm",
      "/v1/vms/vm-namespace/hello-vm/" + VM1 + "/",
      "/v1/vms/vm-namespace/hello-vm/" + VM1 + "/extra",
      "/v1/vms/vm-namespace/hello-vm/5F0C6D1E000040008000000000000001",
      "/v1/vms/vm-namespace/hello-vm/5f0c6d1e00004000800000000000001",
      "/v1/vms/vm-namespace/hello-vm/5f0c6d1e0000400080000000000000011",
      "/v1/vms/vm-namespace/hello-vm/5f0c6d1e00004000800000000000000g",
      "/v1/vms/Vm-Namespace/hello-vm/" + VM1,
      "/v1/vms/vm-namespace/hello%2Fvm/" + VM1,
      "/v1/vms/vm-namespace/../" + VM1,
      "/v1/vms//hello-vm/" + VM1,
      "/v2/vms/vm-namespace/hello-vm/" + VM1})
  void aPathThatNamesNoVmIs404(String path) throws Exception {
    ServerFixture.Reply r = f.call(new Request.Builder().url(f.server.url() + path).delete()
        .header("Authorization", "Bearer " + ADMIN_TOKEN).build());

    assertEquals(404, r.code(), path + ": " + r.text());
    assertTrue(r.json().get("error").asText().contains("DELETE /v1/vms/{namespace}/{group}/{machineId}"), r.text());
    assertEquals(List.of(), sink.deregistered);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"GET", "POST", "PUT", "PATCH"})
  void anotherMethodIs405AndNamesDelete(String method) throws Exception {
    RequestBody body = method.equals("GET") ? null : RequestBody.create("{}", ServerFixture.JSON);
    ServerFixture.Reply r = f.call(new Request.Builder().url(f.url(path(NS, GROUP, VM1))).method(method, body)
        .header("Authorization", "Bearer " + CRED1).build());

    assertEquals(405, r.code(), r.text());
    assertEquals("DELETE", r.header("Allow"));
    assertEquals(List.of(VM1, VM2), listed());
  }

  @Test
  void noOrAnUnknownCredentialIs401() throws Exception {
    assertEquals(401, delete(path(NS, GROUP, VM1), null).code());
    assertEquals(401, delete(path(NS, GROUP, VM1), "vmc.vm-namespace." + VM1 + ".forged").code());
    assertEquals(List.of(VM1, VM2), listed());
  }

  private static String path(String namespace, String group, String machineId) {
    return "/v1/vms/" + namespace + "/" + group + "/" + machineId;
  }

  private ServerFixture.Reply delete(String path, String bearer) throws IOException {
    return f.call(deleteRequest(f, path, bearer));
  }

  private static Request deleteRequest(ServerFixture fixture, String path, String bearer) {
    Request.Builder b = new Request.Builder().url(fixture.url(path)).delete();
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    return b.build();
  }

  /** The machine ids GET /v1/vms lists, in its order. */
  private List<String> listed() throws IOException {
    ServerFixture.Reply vms = f.get("/v1/vms", ADMIN_TOKEN);
    assertEquals(200, vms.code(), vms.text());
    List<String> ids = new java.util.ArrayList<>();
    vms.json().get("vms").forEach(v -> ids.add(v.get("machineId").asText()));
    return ids;
  }
}
