package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.istiovmagent.onboarding.mesh.EntryPlan;
import io.istiovmagent.server.OnboardingServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet page in a real browser: Debian's chromium, headless, against the real service over HTTPS on loopback in
 * the Kubernetes mode, three VMs' entries in the mock API server. The certificate is not made trusted for the whole
 * browser: chromium ignores errors for exactly the service's key (--ignore-certificate-errors-spki-list), in a
 * profile of the test's own. Missing chromium fails, never skips: dev/ensure-tools installs it.
 */
@EnableKubernetesMockClient(crud = true)
class FleetPageInChromiumTest {
  /** The service's own condition type (AgentState.TYPE), as an entry carries it. */
  private static final String AGENT = "istio-vm-agent.io/Agent";
  private static final Pattern ROW = Pattern.compile("<tr data-machine=\"([0-9a-f]+)\" data-health=\"(\\w+)\">(.*?)"
      + "</tr>", Pattern.DOTALL);

  // One fleet and one service for the class: the page only reads, and each browser run has a profile of its own.
  static KubernetesMockServer server;
  static KubernetesClient client;
  @TempDir
  static Path tmp;
  private static FleetOnMockApi fleet;
  private static OnboardingServer endpoint;
  private static int runs;

  /** Whoever may edit an entry may write markup into it: a fourth VM's entry, forged so. */
  static final String FORGED = "ddddddddddddddddddddddddddddddd4";

  @BeforeAll
  static void start() throws Exception {
    fleet = new FleetOnMockApi(server, client).reported();
    Map<String, Object> entry = Map.of("apiVersion", "networking.istio.io/v1", "kind", "WorkloadEntry",
        "metadata", Map.of("name", "foo-" + FORGED, "namespace", "bar", "labels", Map.of(EntryPlan.MANAGED_BY,
            EntryPlan.MANAGER, EntryPlan.MACHINE_LABEL, FORGED)),
        "spec", Map.of("address", "<img src=x onerror=\"document.title='owned'\">"),
        "status", Map.of("conditions", List.of(
            Map.of("type", "Healthy", "status", "True", "reason", "<b>Serving</b>"),
            Map.of("type", AGENT, "status", "True", "reason", "Healthy", "message", "first-healthy=never "
                + "error=\"<script>document.title='owned'</script>\" history=\"2026-12-07T10:00:00Z <i>x</i>\""))));
    GenericKubernetesResource forged = client.getKubernetesSerialization().convertValue(entry,
        GenericKubernetesResource.class);
    client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(forged).create();
    client.genericKubernetesResources(EntryRegistry.ENTRIES).inNamespace("bar").resource(forged).updateStatus();
    FleetOnMockApi.await(() -> fleet.cache.all().stream().anyMatch(e -> e.getMetadata().getName().endsWith(FORGED)
        && e.getAdditionalProperties().get("status") != null));
    endpoint = fleet.serve(tmp);
  }

  @AfterAll
  static void stop() {
    fleet.close();
  }

  @Test
  void thePageShowsEveryVmWithItsHealthAgesAndTransitionsAndTakesTheTokenOutOfTheAddress() throws Exception {
    Path png = Path.of("target", "fleet-page.png").toAbsolutePath(); // a picture for people, not compared
    Files.deleteIfExists(png);
    String dom = chromium(List.of("--dump-dom", "--screenshot=" + png), "token=" + FleetOnMockApi.ADMIN);
    assertTrue(Files.size(png) > 10_000, "a screenshot of the page");
    System.out.println("fleet page screenshot: " + png);
    Map<String, String> rows = rows(dom);
    assertEquals(List.of(FleetOnMockApi.SERVING, FleetOnMockApi.DOWN, FORGED, FleetOnMockApi.NEVER),
        List.copyOf(rows.keySet()), dom);
    assertEquals("bar foo aaaaaaaaaaaa 10.0.0.7 True/Serving Healthy active/running in 41m 60s ago - Serving 60s ago",
        rows.get(FleetOnMockApi.SERVING));
    assertEquals("bar foo bbbbbbbbbbbb 10.0.0.8 False/SidecarDown Unhealthy failed/failed (3 restarts) in 38m 0s ago "
        + "istio.service is failed: Main process exited, code=exited, status=1/FAILURE SidecarDown 0s ago Serving 60s "
        + "ago", rows.get(FleetOnMockApi.DOWN), "the newest transition first");
    assertEquals("baz web cccccccccccc 10.0.1.9 False/EnvoyNotReady NeverHealthy active/running in 12m 60s ago Envoy "
        + "not ready (HTTP 503) EnvoyNotReady 60s ago", rows.get(FleetOnMockApi.NEVER));
    assertEquals(List.of("all", "bar", "baz"), options(dom, "f-ns"));
    assertEquals(List.of("all", "foo", "web"), options(dom, "f-group"));
    assertTrue(dom.contains("<p id=\"summary\">4 of 4 VMs</p>"), dom);
    assertTrue(dom.contains("Updated 10:01:00 UTC (the service's clock)"), "times by the service's clock: " + dom);
    assertTrue(dom.contains("<form id=\"token-form\" hidden=\"\">"), "no token asked for: " + dom);
    assertEquals(endpoint.url() + "/fleet", viewLink(dom), "the address has no token left in it");
  }

  /** Markup in an entry is shown as text: no element, no script run. */
  @Test
  void markupInAnEntryIsShownAsTextAndNeverRun() throws Exception {
    String dom = chromium("--dump-dom", "token=" + FleetOnMockApi.ADMIN + "&q=dddddddddddd");
    assertEquals(List.of(FORGED), List.copyOf(rows(dom).keySet()), dom);
    assertTrue(dom.contains("&lt;img src=x onerror=\"document.title='owned'\"&gt;"), dom);
    assertTrue(dom.contains("&lt;b&gt;Serving&lt;/b&gt;"), dom);
    assertTrue(dom.contains("&lt;script&gt;document.title='owned'&lt;/script&gt;"), dom);
    assertTrue(dom.contains("&lt;i&gt;x&lt;/i&gt;"), dom);
    assertFalse(Pattern.compile("<(img|b|i)[ >]|<script>document").matcher(dom).find(), dom);
    assertTrue(dom.contains("<title>VM fleet · istio-vm-onboarding</title>"), "no script of the entry's ran");
  }

  @Test
  void filtersFromTheAddressNarrowTheTableAndStayInTheLink() throws Exception {
    String dom = chromium("--dump-dom", "token=" + FleetOnMockApi.ADMIN + "&ns=bar&health=False");
    assertEquals(List.of(FleetOnMockApi.DOWN), List.copyOf(rows(dom).keySet()), dom);
    assertEquals(List.of("all", "foo"), options(dom, "f-group"), "the groups of the namespace chosen");
    assertTrue(dom.contains("<p id=\"summary\">1 of 4 VMs</p>"), dom);
    assertEquals(endpoint.url() + "/fleet#ns=bar&amp;health=False", viewLink(dom));

    String search = chromium("--dump-dom", "token=" + FleetOnMockApi.ADMIN + "&q=HTTP%20503");
    assertEquals(List.of(FleetOnMockApi.NEVER), List.copyOf(rows(search).keySet()), "free text: " + search);
  }

  @Test
  void aRefusedTokenIsAskedForAgainAndNoVmIsShown() throws Exception {
    String dom = chromium("--dump-dom", "token=not-the-admin-token");
    assertEquals(Map.of(), rows(dom));
    assertTrue(dom.contains("<form id=\"token-form\">"), "the token is asked for: " + dom);
    assertTrue(dom.contains("The service refused the token (HTTP 401)"), dom);
    assertFalse(dom.contains("not-the-admin-token"), dom);
  }

  private static String chromium(String what, String fragment) throws Exception {
    return chromium(List.of(what), fragment);
  }

  /** Runs headless chromium on the page with {@code fragment}; returns what it prints (the DOM for --dump-dom). */
  private static String chromium(List<String> what, String fragment) throws Exception {
    int n = runs++;
    Path profile = Files.createDirectories(tmp.resolve("chromium-" + n));
    Path err = tmp.resolve("chromium-" + n + ".err");
    List<String> argv = new ArrayList<>(List.of(chromiumPath(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + profile, "--ignore-certificate-errors-spki-list=" + spki(),
        "--window-size=1500,520", "--virtual-time-budget=3000"));
    argv.addAll(what);
    argv.add(endpoint.url() + "/fleet#" + fragment);
    ProcessBuilder pb = new ProcessBuilder(argv).redirectError(err.toFile());
    pb.environment().put("HOME", profile.toString()); // nothing of the browser's outside the test's directory
    pb.environment().put("XDG_CONFIG_HOME", profile.toString());
    pb.environment().put("XDG_CACHE_HOME", profile.toString());
    long t0 = System.nanoTime();
    Process p = pb.redirectOutput(ProcessBuilder.Redirect.PIPE).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("chromium did not finish in 30 s");
    }
    System.out.printf("chromium %s: %d ms%n", what, (System.nanoTime() - t0) / 1_000_000);
    assertEquals(0, p.exitValue(), Files.readString(err));
    return new String(out, StandardCharsets.UTF_8);
  }

  /** The base64 SHA-256 of the service's public key: the one certificate chromium accepts without a CA. */
  private static String spki() throws Exception {
    return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
        .digest(endpoint.tls().certificate().getPublicKey().getEncoded()));
  }

  private static String chromiumPath() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "chromium");
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new AssertionError("chromium is not installed, and this test runs the fleet page in it: apt-get install "
        + "chromium (./dev/ensure-tools installs it)");
  }

  /** Each VM's row, by machine id, as its text (tags dropped, spaces collapsed), in the table's order. */
  private static Map<String, String> rows(String dom) {
    Map<String, String> rows = new LinkedHashMap<>();
    Matcher m = ROW.matcher(dom);
    while (m.find()) {
      rows.put(m.group(1), text(m.group(3)));
    }
    return rows;
  }

  private static List<String> options(String dom, String select) {
    Matcher m = Pattern.compile("<select id=\"" + select + "\">(.*?)</select>", Pattern.DOTALL).matcher(dom);
    assertTrue(m.find(), select + " in " + dom);
    return Pattern.compile("<option value=\"[^\"]*\">([^<]*)</option>").matcher(m.group(1)).results()
        .map(r -> r.group(1)).toList();
  }

  private static String viewLink(String dom) {
    Matcher m = Pattern.compile("<a id=\"view-link\" href=\"([^\"]*)\">").matcher(dom);
    assertTrue(m.find(), dom);
    return m.group(1);
  }

  private static String text(String html) {
    return html.replaceAll("<[^>]*>", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        .replace("&quot;", "\"").replaceAll("\\s+", " ").strip();
  }
}
