package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.onboarding.kube.ClusterCredentials;
import io.istiovmagent.onboarding.kube.KubernetesMode;
import io.istiovmagent.onboarding.kube.MeshOnMockApi;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.server.BundleProvider;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.sidecar.ServiceState;
import io.istiovmagent.sidecar.SidecarDiagnosis;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.systemd.Notifier;
import io.istiovmagent.systemd.UnixDatagramReceiver;
import io.istiovmagent.testing.FakeSystemd;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real reference endpoint and the real agent daemon, over HTTPS on loopback. */
class EndToEndTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private final ByteArrayOutputStream agentLog = new ByteArrayOutputStream();
  private final ByteArrayOutputStream endpointLog = new ByteArrayOutputStream();
  private final FakeSystemd systemd = new FakeSystemd(812);
  private OnboardingServer server;
  private ServerTls tls;
  private MockWebServer envoy;
  private UnixDatagramReceiver notify;
  private AgentDaemon daemon;
  private Thread thread;
  private Path root;
  private Path caFile;
  private String joinToken;
  private String namespace = "vm-namespace";
  private String group = "hello-vm";
  private String adminToken;
  private OkHttpClient admin;

  private void startEndpoint(int port) throws Exception {
    startEndpoint(port, Optional.empty());
  }

  /** The endpoint over a directory of istioctl output, or over the cluster. */
  private void startEndpoint(int port, Optional<KubernetesMode.Cluster> cluster) throws Exception {
    Optional<BundleProvider> provider = cluster.map(KubernetesMode.Cluster::bundles);
    Path bundles = tmp.resolve("bundles/vm-namespace/hello-vm");
    if (provider.isEmpty() && !Files.isDirectory(bundles)) {
      Files.createDirectories(bundles);
      for (Map.Entry<BundleFile, byte[]> e : SampleBundle.generate(SampleBundle.Spec.defaults(),
          Clock.systemUTC().instant()).entrySet()) {
        Files.write(bundles.resolve(e.getKey().fileName()), e.getValue());
      }
    }
    if (joinToken == null) {
      joinToken = "join-" + Long.toHexString(new SplittableRandom().nextLong());
      adminToken = "admin-" + Long.toHexString(new SplittableRandom().nextLong());
      Files.writeString(tmp.resolve("tokens.yaml"), "tokens:\n  - token: " + joinToken
          + "\n    namespace: " + namespace + "\n    group: " + group + "\n  - token: " + adminToken
          + "\n    admin: true\n");
      Files.setPosixFilePermissions(tmp.resolve("tokens.yaml"), PosixFilePermissions.fromString("rw-------"));
    }
    if (tls == null) { // a restarted endpoint keeps its certificate, as a real one would
      tls = ServerTls.selfSigned(Clock.systemUTC(), List.of());
      caFile = Files.writeString(tmp.resolve("endpoint.pem"), tls.certificatePem());
      admin = client(caFile);
    }
    OnboardingServer.Builder b = OnboardingServer.builder();
    if (cluster.isPresent()) {
      b.bundles(cluster.get().bundles()).credentials(cluster.get().credentials()).enroller(cluster.get().enroller())
          .healthSink(cluster.get().entries());
    } else {
      b.bundles(tmp.resolve("bundles"));
    }
    server = b.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
        .tls(tls).tokens(tmp.resolve("tokens.yaml"))
        .reports(tmp.resolve("reports.jsonl")).clock(Clock.systemUTC())
        .log(new Log(new PrintStream(endpointLog, true, StandardCharsets.UTF_8), true)).build();
    server.start();
  }

  private void startAgent(String token, Duration heartbeat) throws Exception {
    startAgent(token, heartbeat, "10m");
  }

  private void startAgent(String token, Duration heartbeat, String refreshInterval) throws Exception {
    root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.writeString(root.resolve("etc/machine-id"), "5f0c6d1e000040008000000000000001\n");
    Files.writeString(root.resolve("etc/hostname"), "vm-e2e\n");
    Path tokenFile = Files.writeString(tmp.resolve("join-token"), token + "\n");
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    envoy = TestTls.startPlain();
    envoy.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest r) {
        return new MockResponse.Builder().code(200).build();
      }
    });
    Files.createDirectories(root.resolve("etc/istio-vm-agent"));
    String base = "https://localhost:" + server.port();
    Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"), "bundle:\n  source: " + base
        + "/v1/bundle/" + namespace + "/" + group + "\n  caFile: " + caFile + "\n  tokenFile: " + tokenFile
        + "\n  refreshInterval: " + refreshInterval + "\n  backoffCap: 2s\nreport:\n  url: " + base + "/v1/health\n  interval: " + heartbeat.toSeconds()
        + "s\nsidecar:\n  readinessUrl: http://127.0.0.1:" + envoy.getPort() + "/healthz/ready\n");
    launchAgent();
  }

  /** The same VM (root, configuration, state) started again, as after a reboot or a restart of the unit. */
  private void restartAgent() throws Exception {
    notify.close();
    Files.deleteIfExists(tmp.resolve("notify.sock"));
    launchAgent();
  }

  private void launchAgent() throws Exception {
    notify = UnixDatagramReceiver.atPath(tmp.resolve("notify.sock"));
    daemon = new AgentDaemon(new AgentDaemon.Options(new RootFs(root),
        root.resolve("etc/istio-vm-agent/config.yaml"), Clock.systemUTC(),
        Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", tmp.resolve("notify.sock").toString())), Optional.empty(),
        (config, fs, log) -> new SidecarSupervisor(config.unit(), systemd,
            new ReadinessProbe(config.readinessUrl(), Duration.ofMillis(500)), new SidecarDiagnosis(fs), log),
        host -> List.of(), new SplittableRandom(3), new Log(new PrintStream(agentLog, true, StandardCharsets.UTF_8),
            true), "istio-vm-agent/e2e", "e2e", System.nanoTime()));
    thread = new Thread(daemon::run, "agent-e2e");
    thread.start();
  }

  @AfterEach
  void stopAll() throws Exception {
    if (thread != null && thread.isAlive()) {
      daemon.requestStop();
      thread.join(10_000);
    }
    if (server != null) {
      server.stop();
    }
    if (envoy != null) {
      envoy.close();
    }
    if (notify != null) {
      notify.close();
    }
  }

  @Test
  void reportAnswersThatConfirmTheBundleStandInForTheIntervalRefresh() throws Exception {
    // Heartbeats every 5-6 s to the bundle's own endpoint, each answered "fetchBundleNow": false (the revision the
    // VM reports is the group's current one): each counts as a check, so the 10 s interval refresh keeps moving.
    startEndpoint(0);
    startAgent(joinToken, Duration.ofSeconds(5), "10s");
    awaitNotify("READY=1"::equals);
    AgentStatus s = awaitStatus(st -> st.bundle() != null && st.bundle().confirmedAt() != null
        && st.bundle().lastCheckedAt() != null
        && st.bundle().confirmedAt().isAfter(st.bundle().lastCheckedAt().plusSeconds(10)));
    // More than a refreshInterval since the last fetch, and no fetch: the schedule runs from the confirmation.
    assertEquals(s.bundle().confirmedAt().plusSeconds(10), s.nextRefreshAt(), "next refresh " + s.nextRefreshAt());
    assertEquals(s.bundle().fetchedAt(), s.bundle().lastCheckedAt(), "no fetch since the first");
  }

  /**
   * The service reading the cluster (fabric8's mock API server, reached through a kubeconfig as from outside the
   * cluster). The agent has only a join token: it enrols, fetches with its own credential, and installs a token
   * minted for its group's service account; its reports, naming its configuration revision, confirm the bundle, so
   * the 10 s interval refresh never comes and nothing more is minted. After the join token is revoked, a restarted
   * agent still fetches (with its credential); a second VM claiming the first's machine id cannot enrol.
   */
  @Test
  void withKubernetesTheAgentEnrolsAndInstallsATokenMintedForItsGroup() throws Exception {
    try (MeshOnMockApi mesh = MeshOnMockApi.startInRealTime().istioctlCase()) {
      namespace = "bar";
      group = "foo";
      Path kubeconfig = mesh.kubeconfig(tmp);
      Log quiet = new Log(new PrintStream(endpointLog, true, StandardCharsets.UTF_8), true);
      ClusterCredentials operator = KubernetesMode.credentials(Optional.of(kubeconfig), Optional.empty(),
          Clock.systemUTC(), quiet);
      String join = operator.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.of(1), "e2e");
      startEndpoint(0, Optional.of(KubernetesMode.connect(MeshOnMockApi.options(Optional.of(kubeconfig)),
          Optional.of(new KubernetesMode.FleetSettings("istio-vm-onboarding", "e2e", Duration.ofHours(24), false,
              Duration.ofSeconds(15))), Clock.systemUTC(), quiet)));
      startAgent(join, Duration.ofSeconds(5), "10s");
      awaitNotify("READY=1"::equals);
      String installed = Files.readString(root.resolve("var/run/secrets/tokens/istio-token"));
      assertTrue(installed.startsWith("eyJ"), "a JWT");
      assertEquals(1, mesh.minted());
      Path credential = root.resolve("var/lib/istio-vm-agent/credential");
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(credential)));
      assertTrue(Files.readString(credential).startsWith("vmc.bar.5f0c6d1e000040008000000000000001."));
      AgentStatus s = awaitStatus(st -> st.bundle() != null && st.bundle().confirmedAt() != null
          && st.bundle().confirmedAt().isAfter(st.bundle().lastCheckedAt().plusSeconds(10)));
      assertEquals(AgentStatus.Bundle.ENROLLED, s.bundle().credential());
      assertEquals("vm-serviceaccount", s.bundle().serviceAccount());
      assertEquals(s.bundle().fetchedAt(), s.bundle().lastCheckedAt(), "no fetch since the first");
      assertEquals(1, mesh.minted(), "confirmed by its reports: no second token");
      assertTrue(Files.readString(root.resolve("etc/hosts")).contains("10.10.10.11 istiod-rev-1.istio-system.svc"));

      // The VM as a WorkloadEntry whose Healthy condition follows its sidecar (issue 15): the time from the sidecar's
      // death to Healthy=False in the cluster, and back.
      String machine = "5f0c6d1e000040008000000000000001";
      assertEquals("True", awaitHealthy(mesh, machine, "True", Duration.ofSeconds(10)).get("status"));
      // Registered at enrolment, before the first bundle named it to the sidecar.
      assertTrue(Files.readString(root.resolve("var/lib/istio/envoy/cluster.env")).contains(
          "ISTIO_META_WORKLOAD_ENTRY='foo-" + machine + "'"), "the bundle names the VM's entry");
      Map<String, Object> entry = mesh.entry(machine);
      @SuppressWarnings("unchecked")
      Map<String, Object> meta = (Map<String, Object>) entry.get("metadata");
      assertEquals("true", ((Map<?, ?>) meta.get("annotations")).get("proxy.istio.io/health-checks-enabled"));
      assertEquals("istio-vm-onboarding", ((Map<?, ?>) meta.get("labels")).get("app.kubernetes.io/managed-by"));
      Map<?, ?> owner = (Map<?, ?>) ((List<?>) meta.get("ownerReferences")).get(0);
      assertEquals(List.of("WorkloadGroup", "foo", true), List.of(owner.get("kind"), owner.get("name"),
          owner.get("controller")), "deleting the group deletes its entries (Kubernetes' garbage collector)");
      assertTrue(String.valueOf(entry.get("status")).contains("type=istio-vm-agent.io/Agent"), String.valueOf(
          entry.get("status")));
      // The fleet view, from a laptop's kubeconfig: the VM and its state.
      StringWriter listed = new StringWriter();
      assertEquals(0, io.istiovmagent.onboarding.OnboardingMain.run(Clock.systemUTC(), new PrintWriter(listed, true),
          new PrintWriter(new StringWriter(), true), "vms", "--kubeconfig", kubeconfig.toString(), "-o", "wide"));
      assertTrue(listed.toString().contains(machine) && listed.toString().contains("True/Serving")
          && listed.toString().contains("active/running"), listed.toString());
      long died = System.nanoTime();
      systemd.set(new ServiceState("loaded", "failed", "failed", 0, 1, "enabled"));
      Map<String, Object> down = awaitHealthy(mesh, machine, "False", Duration.ofSeconds(5));
      long tookMs = (System.nanoTime() - died) / 1_000_000;
      assertEquals("SidecarDown", down.get("reason"));
      assertTrue(tookMs < 2000, "sidecar death to Healthy=False took " + tookMs + " ms");
      System.out.println("sidecar death to Healthy=False in the cluster: " + tookMs + " ms (goal: 2 s)");
      systemd.set(new ServiceState("loaded", "active", "running", 900, 1, "enabled"));
      awaitHealthy(mesh, machine, "True", Duration.ofSeconds(5));

      assertTrue(operator.revokeJoinToken("bar", join.substring(0, 6)));
      daemon.requestStop();
      thread.join(10_000);
      assertEquals("AgentStopping", awaitHealthy(mesh, machine, "False", Duration.ofSeconds(5)).get("reason"),
          "the last report, STOPPING, takes the VM out of traffic");
      Files.delete(root.resolve("var/run/secrets/tokens/istio-token")); // a reboot: tmpfs is gone
      restartAgent();
      awaitStatus(st -> st.bundle() != null && !st.bundle().fromLastKnownGood() && st.lastError() == null
          && mesh.minted() == 2);
      assertTrue(Files.isRegularFile(root.resolve("var/run/secrets/tokens/istio-token")));
      assertNoCredentialAnywhere();
      assertFalse(endpointLog.toString(StandardCharsets.UTF_8).contains(join.substring(7)), "join token leaked");
      assertFalse(agentLog.toString(StandardCharsets.UTF_8).contains(Files.readString(credential).strip()
          .substring(41)), "credential leaked");

      // apt remove: the agent stops (STOPPING), then prerm's deregister deletes the entry.
      daemon.requestStop();
      thread.join(10_000);
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int code = io.istiovmagent.cli.Main.run(Clock.systemUTC(), new PrintWriter(out, true),
          new PrintWriter(err, true), "--root", root.toString(), "--config",
          root.resolve("etc/istio-vm-agent/config.yaml").toString(), "deregister");
      assertEquals(0, code, out + "" + err);
      assertNull(mesh.entry(machine), "deregistered: its WorkloadEntry is gone");

      // A second VM with the same machine id and a fresh join token: refused, and its status says why.
      String second = operator.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
      Files.delete(credential);
      Files.delete(root.resolve("var/lib/istio-vm-agent/last-known-good.json"));
      Files.writeString(tmp.resolve("join-token"), second + "\n");
      restartAgent();
      AgentStatus refused = awaitStatus(st -> st.lastError() != null
          && st.lastError().message().contains("enrolment refused (HTTP 409)"));
      assertTrue(refused.lastError().message().contains("already enrolled"), refused.lastError().message());
    }
  }

  @Test
  void onboardsReportsFailuresWithinASecondAndSaysGoodbye() throws Exception {
    startEndpoint(0);
    startAgent(joinToken, Duration.ofSeconds(60));
    awaitNotify("READY=1"::equals);
    long ready = System.nanoTime();
    assertTrue(Files.isRegularFile(root.resolve("var/run/secrets/tokens/istio-token")), "bundle fetched with the join token");
    JsonNode vm = awaitVm(v -> "HEALTHY".equals(v.path("status").asText()), Duration.ofSeconds(5));
    long firstReport = System.nanoTime() - ready;
    assertTrue(firstReport < Duration.ofSeconds(1).toNanos(), "first report " + firstReport / 1_000_000 + " ms after READY");
    assertEquals("vm-e2e", vm.path("hostname").asText());
    assertEquals("active/running", vm.path("sidecar").asText());

    long failedAt = System.nanoTime();
    systemd.set(new ServiceState("loaded", "failed", "failed", 0, 1, "enabled"));
    vm = awaitVm(v -> "failed/failed".equals(v.path("sidecar").asText()), Duration.ofSeconds(5));
    long seen = System.nanoTime() - failedAt;
    assertTrue(seen < Duration.ofSeconds(1).toNanos(), "sidecar failure reached /v1/vms after " + seen / 1_000_000 + " ms");
    assertEquals("UNHEALTHY", vm.path("status").asText());

    daemon.requestStop();
    thread.join(10_000);
    assertEquals("STOPPING", awaitVm(v -> "STOPPING".equals(v.path("status").asText()), Duration.ofSeconds(5))
        .path("status").asText());
    assertNoCredentialAnywhere();
  }

  @Test
  void afterAnEndpointOutageOneCurrentReportArrivesNotAFlood() throws Exception {
    startEndpoint(0);
    int port = server.port();
    startAgent(joinToken, Duration.ofSeconds(60));
    awaitNotify("READY=1"::equals);
    awaitVm(v -> "HEALTHY".equals(v.path("status").asText()), Duration.ofSeconds(5));
    server.stop();
    for (int i = 0; i < 6; i++) { // the sidecar flaps while nobody listens
      boolean failed = i % 2 == 0;
      systemd.set(failed ? new ServiceState("loaded", "failed", "failed", 0, i + 1, "enabled")
          : new ServiceState("loaded", "active", "running", 900 + i, i + 1, "enabled"));
      String expected = failed ? "failed/failed" : "active/running";
      awaitStatus(s -> s.sidecar().state().label().equals(expected));
    }
    awaitStatus(s -> s.report() != null && s.report().lastError() != null);
    long before = reportLines();
    startEndpoint(port);
    JsonNode vm = awaitVm(v -> "active/running".equals(v.path("sidecar").asText()), WAIT);
    AgentStatus now = awaitStatus(s -> s.report().lastError() == null);
    // Six starts in a minute are a crash loop: the current state the agent holds is what must arrive.
    assertEquals(now.health().name(), vm.path("status").asText(), "the current state");
    assertTrue(now.sidecar().crashLoop());
    long after = reportLines();
    assertEquals(1, after - before, "one current report after the outage, not a flood");
    JsonNode last = JSON.readTree(Files.readAllLines(tmp.resolve("reports.jsonl")).get((int) after - 1));
    assertTrue(last.path("transitions").size() >= 1, "it carries the transitions it missed: " + last);
    assertNoCredentialAnywhere();
  }

  @Test
  void aWrongJoinTokenIsRejectedAndTheStatusSaysSo() throws Exception {
    startEndpoint(0);
    startAgent("not-the-join-token", Duration.ofSeconds(60));
    AgentStatus s = awaitStatus(st -> st.lastError() != null);
    assertTrue(s.lastError().message().contains("credential rejected (HTTP 401)"), s.lastError().message());
    assertEquals(AgentStatus.Health.UNHEALTHY, s.health());
    assertFalse(Files.exists(root.resolve("var/run/secrets/tokens/istio-token")));
    assertFalse(agentLog.toString(StandardCharsets.UTF_8).contains("not-the-join-token"));
    assertFalse(endpointLog.toString(StandardCharsets.UTF_8).contains("not-the-join-token"));
  }

  // --- helpers ---

  /** The Healthy condition of the machine's WorkloadEntry once it has {@code status}; polled, never slept for. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> awaitHealthy(MeshOnMockApi mesh, String machine, String status, Duration within)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    Map<String, Object> last = null;
    while (System.nanoTime() < deadline) {
      Map<String, Object> entry = mesh.entry(machine);
      Object conditions = entry == null ? null : ((Map<String, Object>) entry.getOrDefault("status", Map.of()))
          .get("conditions");
      if (conditions instanceof List<?> l) {
        for (Object o : l) {
          Map<String, Object> c = (Map<String, Object>) o;
          if ("Healthy".equals(c.get("type"))) {
            last = c;
            if (status.equals(c.get("status"))) {
              return c;
            }
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("the WorkloadEntry of " + machine + " did not become Healthy=" + status + " within "
        + within + "; last condition " + last);
  }

  private void assertNoCredentialAnywhere() throws IOException {
    String istioToken = Files.readString(root.resolve("var/run/secrets/tokens/istio-token")).strip();
    String jsonl = Files.readString(tmp.resolve("reports.jsonl"));
    String status = Files.readString(root.resolve("run/istio-vm-agent/status.json"));
    for (String where : List.of(jsonl, status, agentLog.toString(StandardCharsets.UTF_8),
        endpointLog.toString(StandardCharsets.UTF_8))) {
      assertFalse(where.contains(joinToken), "join token leaked");
      assertFalse(where.contains(adminToken), "admin token leaked");
      for (String part : istioToken.split("\\.")) {
        assertFalse(where.contains(part), "istio-token leaked");
      }
    }
  }

  private long reportLines() throws IOException {
    Path f = tmp.resolve("reports.jsonl");
    return Files.exists(f) ? Files.readAllLines(f).size() : 0;
  }

  private JsonNode awaitVm(Predicate<JsonNode> match, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    while (System.nanoTime() < deadline) {
      try (Response r = admin.newCall(new Request.Builder().url("https://localhost:" + server.port() + "/v1/vms")
          .header("Authorization", "Bearer " + adminToken).build()).execute()) {
        if (r.code() == 200) {
          for (JsonNode v : JSON.readTree(r.body().string()).path("vms")) {
            last = v;
            if (match.test(v)) {
              return v;
            }
          }
        }
      } catch (IOException notUpYet) {
        // the endpoint is restarting
      }
      Thread.sleep(10);
    }
    throw new AssertionError("no matching VM in /v1/vms within " + timeout + "; last " + last + "\n" + agentLog);
  }

  private AgentStatus awaitStatus(Predicate<AgentStatus> match) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    StatusFile f = new StatusFile(root.resolve("run/istio-vm-agent"));
    while (System.nanoTime() < deadline) {
      try {
        Optional<AgentStatus> s = f.read();
        if (s.isPresent() && match.test(s.get())) {
          return s.get();
        }
      } catch (IOException | RuntimeException partial) {
        // not written yet
      }
      Thread.sleep(10);
    }
    throw new AssertionError("status never matched\n" + agentLog);
  }

  private void awaitNotify(Predicate<String> match) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        if (match.test(notify.receive())) {
          return;
        }
      } catch (AssertionError nothingYet) {
        // keep waiting
      }
    }
    throw new AssertionError("no matching notify message\n" + agentLog);
  }

  private static OkHttpClient client(Path ca) throws Exception {
    X509TrustManager tm = TlsTrust.trustManager(Optional.of(ca));
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {tm}, null);
    return new OkHttpClient.Builder().sslSocketFactory(ctx.getSocketFactory(), tm).build();
  }

}
