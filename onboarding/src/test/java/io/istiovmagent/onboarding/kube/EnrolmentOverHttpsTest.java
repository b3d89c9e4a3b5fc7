package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzReader;
import io.istiovmagent.server.BundleProvider;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes mode over HTTPS: a VM enrols with a join token and fetches and reports with its own credential; the
 * join token does not fetch; a credential reports about its own machine only.
 */
@EnableKubernetesMockClient(crud = true)
class EnrolmentOverHttpsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String VM1 = "0123456789abcdef0123456789abcdef";
  private static final String VM2 = "fedcba9876543210fedcba9876543210";

  KubernetesMockServer server;
  KubernetesClient client;
  private MeshOnMockApi mesh;
  private ClusterCredentials creds;
  private OnboardingServer endpoint;
  private OkHttpClient http;
  private EntryRegistry sink;

  @TempDir
  Path tmp;

  private static final String ADMIN = "jt-admin-00000000000000000000000000000001";

  private Path adminTokens() throws IOException {
    Path f = Files.writeString(tmp.resolve("tokens.yaml"), "tokens:\n  - token: " + ADMIN + "\n    admin: true\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  record Reply(int code, String body) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  @BeforeEach
  void start() throws Exception {
    mesh = new MeshOnMockApi(server, client).istioctlCase();
    creds = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log);
    ServerTls tls = ServerTls.selfSigned(mesh.clock, List.of());
    sink = new EntryRegistry(client, KubernetesMode.reads(client, MeshOnMockApi.options(java.util.Optional.empty())),
        mesh.clock, mesh.log);
    endpoint = OnboardingServer.builder().listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .tls(tls).bundles(mesh.bundles(sink::entryOf)).credentials(creds)
        .enroller(KubernetesMode.registering(creds, sink)).healthSink(sink).clock(mesh.clock)
        .log(mesh.log).tokens(adminTokens()).build();
    endpoint.start();
    HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(tls.certificate()).build();
    http = new OkHttpClient.Builder().sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
        .callTimeout(20, TimeUnit.SECONDS).build();
  }

  @AfterEach
  void stop() {
    endpoint.stop();
    sink.close();
  }

  private Reply call(String method, String path, String bearer, String body) throws IOException {
    Request.Builder rb = new Request.Builder().url(endpoint.url() + path);
    if (bearer != null) {
      rb.header("Authorization", "Bearer " + bearer);
    }
    rb.method(method, body == null ? null : RequestBody.create(body, MediaType.get("application/json")));
    try (Response r = http.newCall(rb.build()).execute()) {
      return new Reply(r.code(), new String(r.body().bytes(), StandardCharsets.UTF_8));
    }
  }

  private String enrol(String token, String machineId) throws IOException {
    return enrol(token, machineId, "vm");
  }

  /** {@code hostname} as JSON string content (escapes included). */
  private String enrol(String token, String machineId, String hostname) throws IOException {
    Reply r = call("POST", "/v1/enroll/bar/foo", token, "{\"machineId\":\"" + machineId + "\",\"hostname\":\""
        + hostname + "\"}");
    assertEquals(201, r.code(), r.body());
    return r.json().path("credential").asText();
  }

  private static String report(String machineId) {
    return report(machineId, "10.0.0.7");
  }

  private static String report(String machineId, String address) {
    return "{\"protocol\":1,\"status\":\"HEALTHY\",\"reasons\":[],\"observedAt\":\"2026-12-07T10:00:00Z\","
        + "\"sequence\":1,\"agent\":{\"version\":\"t\",\"startedAt\":\"2026-12-07T09:59:00Z\",\"heartbeatSeconds\":60},"
        + "\"host\":{\"hostname\":\"vm\",\"machineId\":\"" + machineId + "\",\"addresses\":[\"" + address
        + "\"]},"
        + "\"workload\":{\"namespace\":\"bar\",\"serviceAccount\":\"vm-serviceaccount\",\"group\":\"foo\"},"
        + "\"bundle\":null,\"sidecar\":null,\"transitions\":[]}";
  }

  /**
   * Registered at enrolment, before its first bundle: the bundle names the entry (ISTIO_META_WORKLOAD_ENTRY), since
   * istiod rejects the sidecar's stream when the entry it names does not exist.
   */
  @Test
  void aVmIsRegisteredWhenItEnrolsAndItsBundleNamesItsEntry() throws Exception {
    String join = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    Reply r = call("POST", "/v1/enroll/bar/foo", join, "{\"machineId\":\"" + VM1 + "\",\"hostname\":\"vm\","
        + "\"addresses\":[\"127.0.0.1\",\"not an address\",\"10.0.0.7\"]}");
    assertEquals(201, r.code(), r.body());
    String credential = r.json().path("credential").asText();
    Map<String, Object> entry = mesh.entry(VM1);
    assertEquals("10.0.0.7", ((Map<?, ?>) entry.get("spec")).get("address"));
    assertTrue(String.valueOf(entry.get("status")).contains("reason=Enrolled"), String.valueOf(entry.get("status")));

    Request.Builder rb = new Request.Builder().url(endpoint.url() + "/v1/bundle/bar/foo")
        .header("Authorization", "Bearer " + credential);
    String env;
    String etag;
    try (Response got = http.newCall(rb.build()).execute()) {
      assertEquals(200, got.code());
      etag = got.header("ETag");
      env = new String(TarGzReader.read(got.body().bytes()).files().get(BundleFile.CLUSTER_ENV),
          StandardCharsets.UTF_8);
    }
    assertTrue(env.contains("\nISTIO_META_WORKLOAD_ENTRY='foo-" + VM1 + "'\n"), env);
    String groups = new String(TarGzReader.read(((BundleProvider.Lookup.Found) mesh.bundles().lookup("bar", "foo",
        List.of())).archive()).files().get(BundleFile.CLUSTER_ENV), StandardCharsets.UTF_8);
    assertFalse(groups.contains("ISTIO_META_WORKLOAD_ENTRY"), "the group's own bundle names no entry");
    assertFalse(etag.startsWith("\"" + TarGzReader.read(((BundleProvider.Lookup.Found) mesh.bundles().lookup("bar",
        "foo", List.of())).archive()).configRevision()), "the VM's configuration revision is its own");
  }

  @Test
  void aVmEnrolsThenFetchesAndReportsWithItsOwnCredential() throws Exception {
    String join = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    assertEquals(401, call("GET", "/v1/bundle/bar/foo", join, null).code(), "a join token only enrols");

    String credential = enrol(join, VM1);
    assertEquals(200, call("GET", "/v1/bundle/bar/foo", credential, null).code());
    assertEquals(403, call("GET", "/v1/bundle/bar/other", credential, null).code(), "its group's bundle only");
    assertEquals(200, call("POST", "/v1/health", credential, report(VM1)).code());

    Reply sibling = call("POST", "/v1/health", credential, report(VM2));
    assertEquals(403, sibling.code(), "a VM reports about itself only");
    assertTrue(sibling.body().contains("reports about itself only"), sibling.body());

    String forged = enrol(join, VM2.replace('f', 'e'), "vm-2\\n<3>forged line \\u001b[31m");
    assertFalse(mesh.logged().contains("\n<3>forged"), "a host name cannot forge a log line:\n" + mesh.logged());
    assertTrue(creds.listCredentials(java.util.Optional.of("bar")).stream()
        .anyMatch(c -> c.hostname().equals("vm-2?<3>forged line ?[31m")), "kept printable");
    assertTrue(forged.startsWith("vmc.bar."));

    Reply claim = call("POST", "/v1/enroll/bar/foo", join, "{\"machineId\":\"" + VM1 + "\"}");
    assertEquals(409, claim.code(), "a second VM cannot claim the first's machine id");

    assertTrue(creds.revokeJoinToken("bar", join.substring(0, 6)));
    assertEquals(200, call("GET", "/v1/bundle/bar/foo", credential, null).code(), "the join token is not needed");
    assertFalse(mesh.logged().contains(credential.substring(credential.lastIndexOf('.') + 1)), "never logged");
    assertFalse(mesh.logged().contains(join.substring(7)), "never logged");
  }

  /** What the service cannot write for a VM shows in /v1/vms, for operators, beside the VMs. */
  @Test
  void anEntryThatCannotBeWrittenShowsInTheVmList() throws Exception {
    String join = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    String credential = enrol(join, VM1);
    assertEquals(200, call("POST", "/v1/health", credential, report(VM1, "127.0.0.1")).code());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!sink.idle() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    Reply vms = call("GET", "/v1/vms", ADMIN, null);
    assertEquals(200, vms.code(), vms.body());
    JsonNode problem = vms.json().path("entryProblems").path(0);
    assertEquals("bar/foo-" + VM1, problem.path("entry").asText(), vms.body());
    assertTrue(problem.path("problem").asText().contains("reports no address the mesh could reach"), vms.body());
  }

  @Test
  void badEnrolmentsSayWhy() throws Exception {
    Reply none = call("POST", "/v1/enroll/bar/foo", null, "{\"machineId\":\"" + VM1 + "\"}");
    assertEquals(401, none.code());
    Reply unknown = call("POST", "/v1/enroll/bar/foo", "abcdef.abcdefghijklmnopqrstuvwxyz",
        "{\"machineId\":\"" + VM1 + "\"}");
    assertEquals(401, unknown.code());
    String join = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    assertEquals(400, call("POST", "/v1/enroll/bar/foo", join, "not json").code());
    assertEquals(400, call("POST", "/v1/enroll/bar/foo", join, "{\"machineId\":7}").code());
    assertEquals(405, call("GET", "/v1/enroll/bar/foo", join, null).code());
  }
}
