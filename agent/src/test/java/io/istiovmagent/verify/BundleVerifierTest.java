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
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

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

  // Each rule's refusals, one case per attack, are the hostile-input corpus (src/test/resources/hostile), which
  // reliability.HostileInputTest runs through `apply`: exit 65, the FILE: RULE line, nothing changed on disk.
}
