package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.cli.Main;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.daemon.DaemonHarness;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.source.BundleSources;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.Repo;
import io.istiovmagent.testing.TestTls;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Security;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The transport guarantees, in one place. Every connection the agent makes to the control plane (the bundle fetch
 * of `bundle verify`, `apply` and `run`, and `run`'s health reports) goes through {@code HttpsClients}, and:
 *
 * <table>
 *   <tr><th>guarantee</th><th>proved by</th></tr>
 *   <tr><td>TLS 1.2 or newer: a server offering only TLS 1.0 or 1.1 is refused by the bundle fetch and the report
 *       client even in a JVM that allows those versions (this JDK disables them outright), and no request, so no
 *       credential, goes out; TLS 1.2 works. The reference endpoint refuses TLS 1.0/1.1 clients the same way.</td>
 *       <td>{@link #oldTlsIsRefusedEvenWhereTheJdkAllowsIt}</td></tr>
 *   <tr><td>the server's certificate must chain to a trusted CA and name the host: another name is refused</td>
 *       <td>bundle fetch: HttpsSourceTest#serverCertificateForAnotherHostIsHostnameMismatch,
 *       #serverCertificateFromUntrustedCaIsTlsFailure; reports and the daemon:
 *       {@link #theDaemonRefusesPlaintextAndAnotherNameForReportsAndBundles}</td></tr>
 *   <tr><td>no plaintext: an http:// bundle source or report URL is refused with a message saying why and what to
 *       do</td><td>HttpsSourceTest#plainHttpSourceIsRefusedAtConfiguration, CliTest#plainHttpIsRefusedWithTheReason;
 *       {@link #plainHttpIsRefusedWhereverAUrlIsGiven},
 *       {@link #theDaemonRefusesPlaintextAndAnotherNameForReportsAndBundles}</td></tr>
 *   <tr><td>a redirect to http:// is never followed (bundle fetch: refused with a message; reports: never
 *       followed at all), and an https:// redirect to another host does not get the credential</td>
 *       <td>HttpsSourceTest#redirectToPlainHttpIsRefusedAndNeverFollowed,
 *       #redirectToAnotherHttpsHostIsFollowedWithoutTheCredential;
 *       {@link #theDaemonRefusesPlaintextAndAnotherNameForReportsAndBundles}</td></tr>
 *   <tr><td>there is no switch to weaken any of this: no option, configuration key or environment variable about
 *       insecure / skip / no-verify, and no trust-all, hostname-verifier or cleartext code</td>
 *       <td>{@link #thereIsNoSwitchToTurnVerificationOff}, {@link #onlyHttpsClientsBuildsClientsForTheControlPlane}
 *       </td></tr>
 * </table>
 *
 * {@link #theReferencedProofsExist} keeps the references above honest.
 */
class TransportTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  /** The agent's main sources; {@link #MAINS} are every program's (the shared core and the onboarding service too). */
  private static final Path MAIN = Repo.path("agent/src/main/java/io/istiovmagent");
  private static final List<Path> MAINS = Stream.of("core", "agent", "onboarding")
      .map(m -> Repo.path(m + "/src/main/java/io/istiovmagent")).toList();
  /** Words a switch that weakens TLS would carry. */
  private static final Pattern WEAKENING = Pattern.compile(
      "(?i)insecure|skip|no-?verify|verify\\s*[=:]\\s*(false|no|off)|trust-?all|trust-?any|accept-?all|"
          + "allow-?http|plain-?http|cleartext|disable-?(tls|ssl|verif)|(tls|ssl|cert|host(name)?)-?verif|unsafe|"
          + "ignore-?(cert|tls|ssl)");

  @TempDir
  Path tmp;

  // --- TLS version ---

  @Test
  void oldTlsIsRefusedEvenWhereTheJdkAllowsIt() throws Exception {
    String disabled = Security.getProperty("jdk.tls.disabledAlgorithms");
    // This JDK refuses TLS 1.0 and 1.1 by itself; the child JVM gets them back, so that what refuses them there is
    // the agent's own configuration (HttpsClients: ConnectionSpec.MODERN_TLS, TLS 1.3 and 1.2 only).
    String relaxed = Arrays.stream(disabled.split(",")).map(String::strip)
        .filter(a -> !a.equals("TLSv1") && !a.equals("TLSv1.1")).collect(Collectors.joining(", "));
    Path security = Files.writeString(tmp.resolve("legacy-tls.security"), "jdk.tls.disabledAlgorithms=" + relaxed
        + "\n");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Djava.security.properties=" + security, "-cp",
        System.getProperty("java.class.path"), LegacyTlsProbe.class.getName()).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), output);
    assertEquals(0, p.exitValue(), output);
    Map<String, String> found = new HashMap<>();
    for (String line : output.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        found.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }

    for (String old : List.of("TLSv1", "TLSv1.1")) {
      assertEquals("negotiated " + old, found.get(old + ".jdk"),
          "precondition: the child JVM allows " + old + " and the server offers it\n" + output);
      // Refused for the version (the server's protocol_version alert): the client never offered it.
      assertTrue(found.get(old + ".source").startsWith("TLS TLS to localhost:"), output);
      assertTrue(found.get(old + ".source").contains("refused") && found.get(old + ".source")
          .contains("protocol_version"), output);
      assertTrue(found.get(old + ".report").startsWith("failed SSLHandshakeException")
          && found.get(old + ".report").contains("protocol_version"), output);
      assertEquals("0", found.get(old + ".requests"), "no request (and no join token) over " + old + "\n" + output);
      assertTrue(found.get("serve." + old).startsWith("failed"), "the endpoint refuses " + old + "\n" + output);
    }
    assertEquals("negotiated TLSv1.2", found.get("TLSv1.2.jdk"), output);
    assertTrue(found.get("TLSv1.2.source").startsWith("UNAVAILABLE") && found.get("TLSv1.2.source")
        .contains("HTTP 503"), "TLS 1.2 is accepted: the fetch got as far as the server's answer\n" + output);
    assertEquals("HTTP 503", found.get("TLSv1.2.report"), output);
    assertEquals("2", found.get("TLSv1.2.requests"), output);
    assertEquals("negotiated TLSv1.2", found.get("serve.TLSv1.2"), output);
    ProofSummary.add("transport", "checks passed", 1);
  }

  // --- no plaintext ---

  @ParameterizedTest
  @ValueSource(strings = {"http://localhost:8080/v1/bundle/ns/g", "HTTP://localhost:8080/v1/bundle/ns/g",
      "  http://localhost:8080/v1/bundle/ns/g", "Http://vm:pw@localhost/v1/bundle/ns/g?token=t"})
  void plainHttpIsRefusedWhereverAUrlIsGiven(String url) throws Exception {
    SourceConfigException e = assertThrows(SourceConfigException.class, () -> BundleSources.open(url,
        new BundleSources.Transport(Optional.empty(), Optional.empty(), Duration.ofSeconds(1), "t",
            Clock.systemUTC())));
    assertTrue(e.getMessage().contains("plain http:// is refused"), e.getMessage());
    assertTrue(e.getMessage().contains("serve it over https://"), e.getMessage());
    assertFalse(e.getMessage().contains("pw") || e.getMessage().contains("token=t"), e.getMessage());

    // The CLI, from the command line and from the configuration; and report.url.
    Path config = Files.writeString(tmp.resolve("config.yaml"), "bundle:\n  source: \"" + url + "\"\n");
    Run apply = cli("--root", tmp.resolve("root").toString(), "--config", config.toString(), "apply");
    assertEquals(78, apply.code(), apply.toString());
    assertTrue(apply.err().contains("plain http:// is refused"), apply.err());
    Path report = Files.writeString(tmp.resolve("report.yaml"), "report:\n  url: \"" + url.strip()
        .replace("/v1/bundle/ns/g", "/v1/health") + "\"\n");
    for (String command : List.of("apply", "status")) {
      Run r = cli("--root", tmp.resolve("root").toString(), "--config", report.toString(), command);
      assertEquals(78, r.code(), command + ": " + r);
      assertTrue(r.err().contains("'report.url' must be an https:// URL"), command + ": " + r.err());
      assertFalse(r.err().contains("pw") || r.err().contains("token=t"), r.err());
    }
    ProofSummary.add("transport", "checks passed", 1);
  }

  /**
   * The daemon: an http:// source is unusable and says why; report.url http:// is a configuration error; a report
   * endpoint whose certificate names another host gets no report; a report endpoint redirecting to http:// is not
   * followed. The plain-HTTP servers never see a request.
   */
  @Test
  void theDaemonRefusesPlaintextAndAnotherNameForReportsAndBundles() throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp.resolve("daemon")); MockWebServer plain = TestTls.startPlain()) {
      Path token = Files.writeString(tmp.resolve("join-token"), "transport-test-join-token\n");
      Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
      String plainUrl = "http://localhost:" + plain.getPort();
      int port = h.server.getPort();
      List<String> reportRequests = new CopyOnWriteArrayList<>();
      h.respond.set(r -> {
        if (r.getUrl().encodedPath().startsWith("/v1/health")) {
          reportRequests.add(r.getUrl().encodedPath());
          return new MockResponse.Builder().code(307).addHeader("Location", plainUrl + "/v1/health").build();
        }
        return h.bundleResponse(SampleBundle.Spec.defaults());
      });
      String base = "sidecar:\n  manage: false\nbundle:\n  caFile: " + TestTls.writeCaPem(tmp, DaemonHarness.CA)
          + "\n  tokenFile: " + token + "\n  backoffCap: 1s\n";

      h.writeConfig(base + "  source: " + plainUrl + "/v1/bundle/vm-namespace/hello-vm\n");
      h.start();
      h.await("http:// source refused", WAIT, () -> lastError(h).contains("plain http:// is refused"));

      // report.url http://: the configuration is refused and the previous one stays in force.
      h.writeConfig(base + "  source: " + h.url() + "\nreport:\n  url: " + plainUrl + "/v1/health\n");
      h.await("http:// report.url refused", WAIT, () -> lastError(h).contains("'report.url' must be an https:// URL"));

      // The certificate names localhost: a report endpoint reached as 127.0.0.1 is refused.
      h.writeConfig(base + "  source: " + h.url() + "\nreport:\n  url: https://127.0.0.1:" + port + "/v1/health\n");
      h.await("bundle installed and the report refused", WAIT, () -> h.status().bundle() != null
          && h.status().report() != null && h.status().report().lastError() != null);
      String hostname = h.status().report().lastError();
      assertTrue(hostname.contains("127.0.0.1") && hostname.contains("not verified"), hostname);
      assertEquals(List.of(), reportRequests, "no report reached a server with another host's certificate");

      // A report endpoint that redirects to http:// is not followed.
      h.writeConfig(base + "  source: " + h.url() + "\nreport:\n  url: https://localhost:" + port + "/v1/health\n");
      h.await("the redirect answer in the status", WAIT, () -> h.status().report() != null
          && String.valueOf(h.status().report().lastError()).contains("HTTP 307"));
      assertFalse(reportRequests.isEmpty());
      assertEquals(0, plain.getRequestCount(), "nothing ever went over plain HTTP");
      assertTrue(h.logs().contains("plain http:// is refused"), h.logs());
    }
    ProofSummary.add("transport", "checks passed", 1);
  }

  // --- no switch ---

  @Test
  void thereIsNoSwitchToTurnVerificationOff() throws Exception {
    Map<String, String> names = new LinkedHashMap<>(); // name -> where it is defined
    CommandLine cl = new CommandLine(new Main(Clock.systemUTC()));
    collectOptions(cl.getCommandSpec(), names);
    collectConfigKeys("", AgentConfig.class, names);
    String loader = Files.readString(MAIN.resolve("config/ConfigLoader.java"));
    Matcher key = Pattern.compile("\\.(?:string|strings|duration|bool|section)\\(\"([^\"]+)\"").matcher(loader);
    while (key.find()) {
      names.put(key.group(1), "config key read by ConfigLoader");
    }
    try (Stream<Path> files = Files.walk(MAIN)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        Matcher env = Pattern.compile("(?:getenv|env\\.get|getProperty)\\(\"([^\"]+)\"")
            .matcher(Files.readString(f));
        while (env.find()) {
          names.put(env.group(1), "environment variable or property read in " + f.getFileName());
        }
      }
    }
    Matcher doc = Pattern.compile("\\| `([a-zA-Z][a-zA-Z.]*)` \\|").matcher(Files.readString(Repo.path(
        "docs/configuration.md")));
    while (doc.find()) {
      names.put(doc.group(1), "documented in docs/configuration.md");
    }
    // The packaged example configuration's keys (commented out or not), and what the launcher passes to the JVM or
    // reads from the environment.
    Matcher example = Pattern.compile("(?m)^[\\s#]*([a-zA-Z][a-zA-Z0-9]*):").matcher(Files.readString(
        Repo.path("agent/config.yaml")));
    while (example.find()) {
      names.put(example.group(1), "key in agent/config.yaml");
    }
    Matcher launcher = Pattern.compile("(-D[\\w.]+|-XX:[+-]?\\w+)|\\$\\{?([A-Z][A-Z0-9_]*)").matcher(
        Files.readString(Repo.path("agent/istio-vm-agent")));
    while (launcher.find()) {
      names.put(launcher.group(1) != null ? launcher.group(1) : launcher.group(2),
          "JVM option or environment variable in agent/istio-vm-agent");
    }
    // Not vacuous: the scan saw the options and keys that matter here.
    for (String expected : List.of("--ca-file", "--root", "--config", "--debug", "--json", "bundle.caFile",
        "bundle.tokenFile", "report.url", "tokenFile", "caFile", "NOTIFY_SOCKET", "ISTIO_VM_AGENT_JAVA_OPTS",
        "-Djna.nounpack")) {
      assertTrue(names.containsKey(expected), "the scan missed " + expected + ": " + names.keySet());
    }
    List<String> weakening = names.entrySet().stream().filter(e -> WEAKENING.matcher(e.getKey()).find())
        .map(e -> e.getKey() + " (" + e.getValue() + ")").toList();
    assertEquals(List.of(), weakening, "a switch that could weaken TLS");
    ProofSummary.add("transport", "switches and keys scanned", names.size());
    ProofSummary.add("transport", "checks passed", 1);
  }

  @Test
  void onlyHttpsClientsBuildsClientsForTheControlPlane() throws Exception {
    Map<String, List<String>> hits = new LinkedHashMap<>();
    Map<Pattern, List<String>> rules = new LinkedHashMap<>();
    // What would weaken TLS: none of it anywhere.
    for (String forbidden : List.of("hostnameVerifier\\(", "HostnameVerifier", "implements\\s+X509(Extended)?TrustManager",
        "X509ExtendedTrustManager", "ConnectionSpec\\.CLEARTEXT", "COMPATIBLE_TLS", "\"TLSv1(\\.1)?\"", "\"SSLv3\"",
        "followSslRedirects\\(true\\)", "(?i)trust_?all", "(?i)insecure")) {
      rules.put(Pattern.compile(forbidden), List.of());
    }
    // Clients and TLS contexts: only where they are built on purpose.
    // A URL's or a request's builder (query, username, fragment; tag) is not a client's.
    rules.put(Pattern.compile("new OkHttpClient\\.Builder\\(\\)|OkHttpClient\\(\\)|\\.newBuilder\\(\\)\\s*\\.(?!"
        + "query|username|fragment|tag\\()"), List.of("source/HttpsClients.java", "sidecar/ReadinessProbe.java"));
    rules.put(Pattern.compile("SSLContext\\.getInstance|sslSocketFactory\\("), List.of("source/HttpsClients.java",
        "server/ServerTls.java"));
    // The three callers that talk to the onboarding service: fetch, report, deregister (prerm).
    rules.put(Pattern.compile("HttpsClients\\.client\\("), List.of("source/HttpsSource.java",
        "report/ReportExchange.java", "source/Deregistration.java"));
    int scanned = 0;
    for (Path main : MAINS) {
      try (Stream<Path> files = Files.walk(main)) {
        for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
          scanned++;
          String rel = main.relativize(f).toString();
          String text = Files.readString(f);
          for (Map.Entry<Pattern, List<String>> r : rules.entrySet()) {
            if (r.getKey().matcher(text).find() && !r.getValue().contains(rel)) {
              hits.computeIfAbsent(r.getKey().pattern(), k -> new ArrayList<>()).add(rel);
            }
          }
        }
      }
    }
    assertTrue(scanned > 50, "scanned " + scanned + " files");
    assertEquals(Map.of(), hits, "TLS-weakening code, or a client built outside HttpsClients");
    String clients = Files.readString(MAIN.resolve("source/HttpsClients.java"));
    assertTrue(clients.contains("connectionSpecs(List.of(ConnectionSpec.MODERN_TLS))"), "TLS 1.2+ only");
    assertTrue(clients.contains("followSslRedirects(false)"), "never from https to http");
    // ReadinessProbe is plain HTTP by design (Envoy on loopback) and carries no credential.
    String probe = Files.readString(MAIN.resolve("sidecar/ReadinessProbe.java"));
    assertFalse(probe.contains("Authorization"), "the readiness probe sends no credential");
    ProofSummary.add("transport", "checks passed", 1);
  }

  /** The guarantees proved elsewhere, by name, so that renaming or deleting one of them fails here. */
  @Test
  void theReferencedProofsExist() throws Exception {
    Map<String, List<String>> references = Map.of(
        "io.istiovmagent.source.HttpsSourceTest", List.of("serverCertificateForAnotherHostIsHostnameMismatch",
            "serverCertificateFromUntrustedCaIsTlsFailure", "plainHttpSourceIsRefusedAtConfiguration",
            "redirectToPlainHttpIsRefusedAndNeverFollowed", "redirectToAnotherHttpsHostIsFollowedWithoutTheCredential"),
        "io.istiovmagent.cli.CliTest", List.of("plainHttpIsRefusedWithTheReason"));
    for (Map.Entry<String, List<String>> e : references.entrySet()) {
      Class<?> c = Class.forName(e.getKey());
      for (String m : e.getValue()) {
        Method method = Arrays.stream(c.getDeclaredMethods()).filter(x -> x.getName().equals(m)).findFirst()
            .orElseThrow(() -> new AssertionError(e.getKey() + "#" + m + " is referenced as a proof but is gone"));
        assertTrue(method.isAnnotationPresent(Test.class) || method.isAnnotationPresent(ParameterizedTest.class),
            e.getKey() + "#" + m + " is not a test");
      }
    }
  }

  // --- helpers ---

  record Run(int code, String out, String err) {}

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(code, out.toString(), err.toString());
  }

  private static String lastError(DaemonHarness h) {
    try {
      AgentStatus s = h.status();
      return s.lastError() == null ? "" : s.lastError().message();
    } catch (AssertionError | RuntimeException notYet) {
      return "";
    }
  }

  private static void collectOptions(CommandSpec spec, Map<String, String> names) {
    for (OptionSpec o : spec.options()) {
      for (String n : o.names()) {
        names.put(n, "option of " + spec.qualifiedName());
      }
      addLabel(o, spec, names);
    }
    for (ArgSpec a : spec.positionalParameters()) {
      addLabel(a, spec, names);
    }
    for (CommandLine sub : spec.subcommands().values()) {
      names.put(sub.getCommandName(), "command");
      collectOptions(sub.getCommandSpec(), names);
    }
  }

  private static void addLabel(ArgSpec a, CommandSpec spec, Map<String, String> names) {
    if (a.paramLabel() != null) {
      names.put(a.paramLabel(), "parameter of " + spec.qualifiedName());
    }
    for (String d : a.description()) {
      if (WEAKENING.matcher(d).find()) {
        names.put(d, "description in " + spec.qualifiedName());
      }
    }
  }

  /** Config keys as the records that hold them: bundle.source, bundle.caFile, ... */
  private static void collectConfigKeys(String prefix, Class<?> type, Map<String, String> names) {
    for (RecordComponent c : type.getRecordComponents()) {
      String key = prefix + c.getName();
      names.put(key, "configuration");
      if (c.getType().isRecord()) {
        collectConfigKeys(key + ".", c.getType(), names);
      }
    }
  }

}
