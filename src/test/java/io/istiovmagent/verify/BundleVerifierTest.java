package io.istiovmagent.verify;

import static io.istiovmagent.testing.TestBundles.NOW;
import static io.istiovmagent.testing.TestBundles.RS256;
import static io.istiovmagent.testing.TestBundles.claims;
import static io.istiovmagent.testing.TestBundles.jwt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.testing.TestBundles;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BundleVerifierTest {
  private static final String ENV_OK = "POD_NAMESPACE='vm-namespace'\nSERVICE_ACCOUNT='vm-sa'\n";
  private static final String HOSTS_NAME = " istiod.istio-system.svc\n";
  private static final long HOUR = 3600;

  private final BundleVerifier verifier = new BundleVerifier(TestBundles.CLOCK, Set.of("gw.mesh.example"));

  @Test
  void acceptsBundleAsIstioctlWritesIt() throws Exception {
    VerifiedBundle b = verifier.verify(TestBundles.raw(TestBundles.istioctlSample()));
    assertEquals("vm-namespace", b.namespace());
    assertEquals("vm-sa", b.serviceAccount());
    assertEquals("hello-vm", b.workloadGroup());
    assertEquals("10.128.0.42", b.hosts().get(0).address());
    assertEquals("istiod.istio-system.svc:15012", b.mesh().discoveryAddress());
    assertEquals("O=cluster.local", b.rootCertificates().get(0).subject());
    assertTrue(b.warnings().isEmpty(), b.warnings().toString());
  }

  @Test
  void acceptsGeneratedSample() throws Exception {
    VerifiedBundle b = verifier.verify(TestBundles.raw(TestBundles.valid()));
    assertEquals(NOW.plusSeconds(HOUR), b.token().expiresAt());
    assertEquals(Duration.ofHours(1), b.token().lifetime());
  }

  @Test
  void acceptsEmptyHostsFileAsIstioWritesItForDnsOnlyGateways() throws Exception {
    VerifiedBundle b = verifier.verify(TestBundles.raw(TestBundles.with(TestBundles.valid(), BundleFile.HOSTS, "")));
    assertTrue(b.hosts().isEmpty());
  }

  @Test
  void acceptsConfiguredExtraHostName() throws Exception {
    VerifiedBundle b = verifier.verify(TestBundles.raw(TestBundles.with(TestBundles.valid(), BundleFile.HOSTS,
        "10.1.2.3 GW.mesh.example istiod-1-24.istio-system.svc.cluster.local\n2001:db8::7 istiod.istio-system.svc\n")));
    assertEquals(List.of("gw.mesh.example", "istiod-1-24.istio-system.svc.cluster.local"), b.hosts().get(0).names());
    assertEquals("2001:db8::7", b.hosts().get(1).address());
  }

  @Test
  void acceptsTokenWithSingleStringAudience() throws Exception {
    String token = jwt(RS256, claims("system:serviceaccount:vm-namespace:vm-sa", "\"istio-ca\"", NOW.getEpochSecond(),
        NOW.getEpochSecond() + HOUR));
    verifier.verify(TestBundles.raw(TestBundles.with(TestBundles.valid(), BundleFile.TOKEN, token)));
  }

  @Test
  void warnsButAcceptsRootCertificateExpiringWithin30Days() throws Exception {
    String pem = TestBundles.ca(NOW.minusSeconds(86_400), NOW.plus(Duration.ofDays(10))).certificatePem();
    VerifiedBundle b = verifier.verify(TestBundles.raw(TestBundles.with(TestBundles.valid(), BundleFile.ROOT_CERT, pem)));
    assertEquals(1, b.warnings().size());
    assertEquals("cert-expiring", b.warnings().get(0).rule());
  }

  @Test
  void restoreAcceptsAnExpiredTokenWithAWarningButNothingElse() throws Exception {
    String expired = jwt(RS256, claims("system:serviceaccount:vm-namespace:vm-sa", "[\"istio-ca\"]",
        NOW.getEpochSecond() - 7200, NOW.getEpochSecond() - 3600));
    Map<BundleFile, byte[]> files = TestBundles.with(TestBundles.valid(), BundleFile.TOKEN, expired);
    assertThrows(BadBundleException.class, () -> verifier.verify(TestBundles.raw(files)));
    VerifiedBundle restored = verifier.verifyForRestore(TestBundles.raw(files));
    assertEquals("token-expired", restored.warnings().get(0).rule());

    TestBundles.with(files, BundleFile.HOSTS, "127.0.0.1 istiod.istio-system.svc\n");
    BadBundleException e = assertThrows(BadBundleException.class, () -> verifier.verifyForRestore(TestBundles.raw(files)));
    assertEquals(List.of("hosts-address"), e.problems().stream().map(Problem::rule).toList());
  }

  @Test
  void reportsEveryProblemAtOnce() {
    Map<BundleFile, byte[]> files = TestBundles.valid();
    TestBundles.with(files, BundleFile.HOSTS, "127.0.0.1 istiod.istio-system.svc\n");
    TestBundles.with(files, BundleFile.TOKEN, jwt("{\"alg\":\"none\"}", claims()));
    BadBundleException e = assertThrows(BadBundleException.class, () -> verifier.verify(TestBundles.raw(files)));
    assertEquals(Set.of("hosts-address", "token-alg"),
        Set.copyOf(e.problems().stream().map(Problem::rule).toList()));
  }

  @Test
  void billionLaughsFailsFast() {
    StringBuilder y = new StringBuilder("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (char c = 'b'; c <= 'j'; c++) {
      char p = (char) (c - 1);
      y.append(c).append(": &").append(c).append(" [*").append(p).append(",*").append(p).append(",*").append(p)
          .append(",*").append(p).append(",*").append(p).append(",*").append(p).append(",*").append(p).append(",*")
          .append(p).append(",*").append(p).append("]\n");
    }
    Map<BundleFile, byte[]> files = TestBundles.with(TestBundles.valid(), BundleFile.MESH, y.toString());
    BadBundleException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(BadBundleException.class, () -> verifier.verify(TestBundles.raw(files))));
    assertEquals("mesh-yaml", e.problems().get(0).rule());
  }

  @Test
  void messagesNeverQuoteTheToken() {
    String token = jwt(RS256, claims("system:serviceaccount:other:sa", "[\"istio-ca\"]", NOW.getEpochSecond(),
        NOW.getEpochSecond() - 10));
    BadBundleException e = assertThrows(BadBundleException.class, () -> verifier.verify(TestBundles.raw(
        TestBundles.with(TestBundles.valid(), BundleFile.TOKEN, token))));
    for (Problem p : e.problems()) {
      for (String part : token.split("\\.")) {
        assertFalse(p.format().contains(part), p.format());
      }
    }
  }

  static Stream<Arguments> badBundles() {
    long now = NOW.getEpochSecond();
    String sub = "system:serviceaccount:vm-namespace:vm-sa";
    return Stream.of(
        // cluster.env: sourced by bash as root
        row("command substitution", env("SERVICE_ACCOUNT=$(reboot)\nPOD_NAMESPACE=vm-namespace\n"), "cluster.env:1", "env-expansion"),
        row("variable expansion", env(ENV_OK + "X=$HOME\n"), "cluster.env:3", "env-expansion"),
        row("dollar inside quotes", env(ENV_OK + "X='$(id)'\n"), "cluster.env:3", "env-expansion"),
        row("backtick inside quotes", env(ENV_OK + "X='`id`'\n"), "cluster.env:3", "env-expansion"),
        row("command separator", env(ENV_OK + "X='a';reboot\n"), "cluster.env:3", "env-metachar"),
        row("semicolon inside quotes", env(ENV_OK + "X='a;b'\n"), "cluster.env:3", "env-metachar"),
        row("pipe", env(ENV_OK + "X=a|b\n"), "cluster.env:3", "env-metachar"),
        row("unbalanced quote", env(ENV_OK + "X='abc\n"), "cluster.env:3", "env-quote"),
        row("double quotes", env(ENV_OK + "X=\"abc\"\n"), "cluster.env:3", "env-quote"),
        row("unquoted space runs a command", env(ENV_OK + "X=a reboot\n"), "cluster.env:3", "env-unquoted-space"),
        row("NUL byte", env(ENV_OK + "X='a\0b'\n"), "cluster.env", "encoding"),
        row("duplicate key", env(ENV_OK + "SERVICE_ACCOUNT='other'\n"), "cluster.env:3", "env-duplicate-key"),
        row("export statement", env(ENV_OK + "export X=1\n"), "cluster.env:3", "env-syntax"),
        row("lower-case key", env(ENV_OK + "x=1\n"), "cluster.env:3", "env-syntax"),
        row("bare command", env(ENV_OK + "reboot\n"), "cluster.env:3", "env-syntax"),
        row("CRLF line endings", env("POD_NAMESPACE='vm-namespace'\r\nSERVICE_ACCOUNT='vm-sa'\r\n"), "cluster.env:1", "env-syntax"),
        row("PATH hijack", env(ENV_OK + "PATH='/tmp'\n"), "cluster.env:3", "env-dangerous-key"),
        row("LD_PRELOAD", env(ENV_OK + "LD_PRELOAD='/tmp/x.so'\n"), "cluster.env:3", "env-dangerous-key"),
        row("BASH_ENV", env(ENV_OK + "BASH_ENV='/tmp/x'\n"), "cluster.env:3", "env-dangerous-key"),
        row("no service account", env("POD_NAMESPACE='vm-namespace'\n"), "cluster.env", "env-required"),
        row("no namespace", env("SERVICE_ACCOUNT='vm-sa'\n"), "cluster.env", "env-required"),
        row("invalid UTF-8", bytes(BundleFile.CLUSTER_ENV, new byte[] {'X', '=', (byte) 0xff}), "cluster.env", "encoding"),
        row("sidecar.env is checked too", put(BundleFile.SIDECAR_ENV, "ISTIO_SVC_IP=$(id)\n"), "sidecar.env:1", "env-expansion"),
        // istio-token
        row("unsigned token", tok(jwt("{\"alg\":\"none\"}", claims())), "istio-token", "token-alg"),
        row("unsigned token, odd case", tok(jwt("{\"alg\":\"None\"}", claims())), "istio-token", "token-alg"),
        row("no alg", tok(jwt("{\"typ\":\"JWT\"}", claims())), "istio-token", "token-alg"),
        row("expired token", tok(jwt(RS256, claims(sub, "[\"istio-ca\"]", now - 7200, now - 3600))), "istio-token", "token-expired"),
        row("token expiring this second", tok(jwt(RS256, claims(sub, "[\"istio-ca\"]", now - 7200, now))), "istio-token", "token-expired"),
        row("token not valid yet", tok(jwt(RS256, claims(sub, "[\"istio-ca\"]", now + 3600, now + 7200))), "istio-token", "token-not-yet-valid"),
        row("token without exp", tok(jwt(RS256, "{\"aud\":[\"istio-ca\"],\"sub\":\"" + sub + "\"}")), "istio-token", "token-exp"),
        row("exp not a number", tok(jwt(RS256, "{\"aud\":[\"istio-ca\"],\"exp\":\"soon\",\"sub\":\"" + sub + "\"}")), "istio-token", "token-exp"),
        row("wrong audience", tok(jwt(RS256, claims(sub, "[\"kubernetes\"]", now, now + HOUR))), "istio-token", "token-audience"),
        row("malformed audience", tok(jwt(RS256, claims(sub, "[1,2]", now, now + HOUR))), "istio-token", "token-audience"),
        row("subject for another service account", tok(jwt(RS256, claims("system:serviceaccount:vm-namespace:other", "[\"istio-ca\"]", now, now + HOUR))), "istio-token", "token-subject"),
        row("subject for another namespace", tok(jwt(RS256, claims("system:serviceaccount:default:vm-sa", "[\"istio-ca\"]", now, now + HOUR))), "istio-token", "token-subject"),
        row("not a JWT", tok("hello"), "istio-token", "token-format"),
        row("payload not JSON", tok("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln"), "istio-token", "token-format"),
        row("payload a JSON array", tok(jwt(RS256, "[1]")), "istio-token", "token-format"),
        // root-cert.pem
        row("not a CA", put(BundleFile.ROOT_CERT, TestBundles.leaf().certificatePem()), "root-cert.pem (certificate 1)", "cert-not-ca"),
        row("second certificate not a CA", put(BundleFile.ROOT_CERT, TestBundles.ca(NOW.minusSeconds(60), NOW.plusSeconds(86_400 * 90)).certificatePem() + TestBundles.leaf().certificatePem()), "root-cert.pem (certificate 2)", "cert-not-ca"),
        row("expired CA", put(BundleFile.ROOT_CERT, TestBundles.ca(NOW.minusSeconds(86_400 * 2), NOW.minusSeconds(86_400)).certificatePem()), "root-cert.pem (certificate 1)", "cert-expired"),
        row("CA not valid yet", put(BundleFile.ROOT_CERT, TestBundles.ca(NOW.plusSeconds(86_400), NOW.plusSeconds(86_400 * 400)).certificatePem()), "root-cert.pem (certificate 1)", "cert-not-yet-valid"),
        row("no certificate", put(BundleFile.ROOT_CERT, "just text\n"), "root-cert.pem", "cert-missing"),
        row("corrupt certificate", put(BundleFile.ROOT_CERT, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "root-cert.pem (certificate 1)", "cert-parse"),
        row("broken PEM base64", put(BundleFile.ROOT_CERT, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), "root-cert.pem", "cert-pem"),
        row("private key beside the CA", put(BundleFile.ROOT_CERT, TestBundles.ca(NOW.minusSeconds(60), NOW.plusSeconds(86_400 * 90)).certificatePem() + TestBundles.leaf().privateKeyPkcs8Pem()), "root-cert.pem", "private-key"),
        row("private key hidden in mesh.yaml", put(BundleFile.MESH, "defaultConfig: {}\nx: |\n  -----BEGIN EC PRIVATE KEY-----\n"), "mesh.yaml", "private-key"),
        // hosts
        row("not an address", hosts("999.1.1.1" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("octal-looking address", hosts("010.0.0.1" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("a host name instead of an address", hosts("gw.example.com" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("loopback", hosts("127.0.0.1" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("IPv6 loopback", hosts("::1" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("IPv4-mapped loopback", hosts("::ffff:127.0.0.1" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("unspecified", hosts("0.0.0.0" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("multicast", hosts("224.0.0.251" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("scoped IPv6", hosts("fe80::1%eth0" + HOSTS_NAME), "hosts:1", "hosts-address"),
        row("foreign name", hosts("10.0.0.1 login.bank.example\n"), "hosts:1", "hosts-name"),
        row("istiod-like but not a svc name", hosts("10.0.0.1 istiod.istio-system.evil.example\n"), "hosts:1", "hosts-name"),
        row("localhost", hosts("10.0.0.1 localhost\n"), "hosts:1", "hosts-localhost"),
        row("localhost, even when allowed", hosts("10.0.0.1 istiod.istio-system.svc LOCALHOST\n"), "hosts:1", "hosts-localhost"),
        row("address without name", hosts("10.0.0.1\n"), "hosts:1", "hosts-syntax"),
        // mesh.yaml
        row("mesh not a mapping", put(BundleFile.MESH, "- a\n- b\n"), "mesh.yaml", "mesh-not-mapping"),
        row("empty mesh", put(BundleFile.MESH, ""), "mesh.yaml", "mesh-not-mapping"),
        row("defaultConfig not a mapping", put(BundleFile.MESH, "defaultConfig: 3\n"), "mesh.yaml", "mesh-not-mapping"),
        row("duplicate keys", put(BundleFile.MESH, "defaultConfig: {}\ndefaultConfig: {}\n"), "mesh.yaml", "mesh-yaml"),
        row("object-building tag", put(BundleFile.MESH, "x: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://127.0.0.1/\"]]]]\n"), "mesh.yaml", "mesh-yaml"),
        row("mesh too deep", put(BundleFile.MESH, "a: " + "[".repeat(200) + "]".repeat(200) + "\n"), "mesh.yaml", "mesh-yaml"),
        row("mesh over 64 KiB", put(BundleFile.MESH, "defaultConfig: {}\n# " + "x".repeat(70_000) + "\n"), "mesh.yaml", "mesh-size"),
        row("syntax error", put(BundleFile.MESH, "defaultConfig: [unclosed\n"), "mesh.yaml", "mesh-yaml"),
        // the set of files
        row("token missing", files -> files.remove(BundleFile.TOKEN), "istio-token", "missing"),
        row("hosts missing", files -> files.remove(BundleFile.HOSTS), "hosts", "missing"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badBundles")
  void refuses(String name, Consumer<Map<BundleFile, byte[]>> breakIt, String file, String rule) {
    Map<BundleFile, byte[]> files = TestBundles.valid();
    breakIt.accept(files);
    BadBundleException e = assertThrows(BadBundleException.class, () -> verifier.verify(TestBundles.raw(files)));
    boolean found = e.problems().stream().anyMatch(p -> p.file().equals(file) && p.rule().equals(rule));
    assertTrue(found, "expected " + file + ": " + rule + " among " + e.problems());
    for (Problem p : e.problems()) {
      assertTrue(p.format().startsWith(p.file() + ": " + p.rule() + ": "), p.format());
      assertFalse(p.message().isBlank());
    }
  }

  private static Arguments row(String name, Consumer<Map<BundleFile, byte[]>> breakIt, String file, String rule) {
    return Arguments.of(name, breakIt, file, rule);
  }

  private static Consumer<Map<BundleFile, byte[]>> env(String text) {
    return put(BundleFile.CLUSTER_ENV, text);
  }

  private static Consumer<Map<BundleFile, byte[]>> tok(String token) {
    return put(BundleFile.TOKEN, token);
  }

  private static Consumer<Map<BundleFile, byte[]>> hosts(String text) {
    return put(BundleFile.HOSTS, text);
  }

  private static Consumer<Map<BundleFile, byte[]>> put(BundleFile f, String text) {
    return files -> files.put(f, text.getBytes(StandardCharsets.UTF_8));
  }

  private static Consumer<Map<BundleFile, byte[]>> bytes(BundleFile f, byte[] b) {
    return files -> files.put(f, b);
  }
}
