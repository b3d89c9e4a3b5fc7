package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.InstallReport.Action;
import io.istiovmagent.install.InstallReport.Change;
import io.istiovmagent.install.Installer;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RestartDecisionTest {
  private static final String LKG = "/var/lib/istio-vm-agent/last-known-good.json";

  /** Paths spelled out, not taken from Destination: the test pins where istio-sidecar reads them. */
  @ParameterizedTest(name = "{0} {1}: restart={2}")
  @CsvSource(delimiter = '|', value = {
      "CREATED   | /var/lib/istio/envoy/cluster.env      | true",
      "UPDATED   | /var/lib/istio/envoy/cluster.env      | true",
      "UPDATED   | /etc/istio/config/mesh                | true",
      "CREATED   | /etc/istio/config/mesh                | true",
      "UPDATED   | /var/lib/istio/envoy/sidecar.env      | true",
      "REMOVED   | /var/lib/istio/envoy/sidecar.env      | true",
      "UPDATED   | /etc/certs/root-cert.pem              | true",
      "CREATED   | /etc/certs/root-cert.pem              | true",
      "UPDATED   | /var/run/secrets/tokens/istio-token   | false",
      "CREATED   | /var/run/secrets/tokens/istio-token   | false",
      "REPAIRED  | /var/lib/istio/envoy/cluster.env      | false",
      "REPAIRED  | /etc/certs/root-cert.pem              | false",
      "REPAIRED  | /var/lib/istio/envoy/                 | false",
      "UNCHANGED | /etc/istio/config/mesh                | false",
      "UPDATED   | /etc/hosts                            | false",
      "CREATED   | /etc/hosts                            | false",
      "UPDATED   | " + LKG + "                           | false",
      "CREATED   | /var/lib/istio/envoy/                 | false",
      "CREATED   | /etc/istio                            | false",
      "UPDATED   | /var/lib/istio/envoy/cluster.env.bak  | false",
  })
  void restartsOnlyForContentTheSidecarReadsAtStart(Action action, String path, boolean restart) {
    RestartDecision d = RestartDecision.of(report(new Change(action, path, "detail")));
    assertEquals(restart, d.restart());
    assertEquals(restart ? List.of(new Change(action, path, "detail")) : List.of(), d.causes());
  }

  @Test
  void aTokenRefreshDoesNotRestart() {
    RestartDecision d = RestartDecision.of(report(
        new Change(Action.UPDATED, LKG, "last-known-good sha256:0123"),
        new Change(Action.UNCHANGED, "/etc/certs/root-cert.pem", ""),
        new Change(Action.UPDATED, "/var/run/secrets/tokens/istio-token", "istio-proxy 0640"),
        new Change(Action.UNCHANGED, "/var/lib/istio/envoy/cluster.env", ""),
        new Change(Action.UNCHANGED, "/etc/istio/config/mesh", ""),
        new Change(Action.UNCHANGED, "/etc/hosts", "managed block")));
    assertFalse(d.restart());
    assertEquals("no restart of istio.service: nothing it reads at start changed", d.summary());
  }

  @Test
  void namesEveryFileThatCallsForARestartInReportOrder() {
    RestartDecision d = RestartDecision.of(report(
        new Change(Action.UPDATED, LKG, "last-known-good sha256:0123"),
        new Change(Action.UPDATED, "/var/run/secrets/tokens/istio-token", "istio-proxy 0640"),
        new Change(Action.UPDATED, "/var/lib/istio/envoy/cluster.env", "istio-proxy 0644"),
        new Change(Action.REPAIRED, "/etc/istio/config/mesh", "mode set to rw-r--r--"),
        new Change(Action.REMOVED, "/var/lib/istio/envoy/sidecar.env", "the new bundle has no sidecar.env"),
        new Change(Action.UPDATED, "/etc/hosts", "managed block with 1 entry")));
    assertTrue(d.restart());
    assertEquals("restart istio.service: /var/lib/istio/envoy/cluster.env updated, "
        + "/var/lib/istio/envoy/sidecar.env removed", d.summary());
  }

  @Test
  void anEmptyReportDoesNotRestart() {
    assertFalse(RestartDecision.of(report()).restart());
  }

  /** The real installer's report, so the paths the decision matches are the ones it actually writes. */
  @Test
  void realInstallsRestartForANewBundleButNotForAFreshToken(@TempDir Path tmp) throws Exception {
    Path root = TestBundles.newRoot(tmp, true);
    RootFs fs = new RootFs(root);
    Installer installer = new Installer(fs, new LastKnownGood(fs.lexical("/var/lib/istio-vm-agent")),
        TestBundles.CLOCK);
    BundleVerifier verifier = new BundleVerifier(TestBundles.CLOCK, Set.of());

    Map<BundleFile, byte[]> first = TestBundles.valid();
    RestartDecision initial = RestartDecision.of(installer.install(verifier.verify(TestBundles.raw(first)), "s"));
    assertTrue(initial.restart(), initial.summary());
    assertEquals(Set.of("/etc/certs/root-cert.pem", "/var/lib/istio/envoy/cluster.env", "/etc/istio/config/mesh"),
        Set.copyOf(initial.causes().stream().map(Change::path).toList()));

    Map<BundleFile, byte[]> refreshed = TestBundles.valid(Duration.ofHours(2));
    refreshed.put(BundleFile.ROOT_CERT, first.get(BundleFile.ROOT_CERT));
    InstallReport tokenOnly = installer.install(verifier.verify(TestBundles.raw(refreshed)), "s");
    assertTrue(tokenOnly.changed("/var/run/secrets/tokens/istio-token"), "the token did change");
    RestartDecision afterRefresh = RestartDecision.of(tokenOnly);
    assertFalse(afterRefresh.restart(), afterRefresh.summary());

    Map<BundleFile, byte[]> newMesh = TestBundles.with(TestBundles.valid(Duration.ofHours(2)), BundleFile.MESH,
        "defaultConfig:\n  discoveryAddress: istiod-canary.istio-system.svc:15012\n");
    newMesh.put(BundleFile.ROOT_CERT, first.get(BundleFile.ROOT_CERT));
    RestartDecision meshChanged = RestartDecision.of(installer.install(verifier.verify(TestBundles.raw(newMesh)), "s"));
    assertEquals(List.of("/etc/istio/config/mesh"), meshChanged.causes().stream().map(Change::path).toList());
  }

  private static InstallReport report(Change... changes) {
    return new InstallReport("sha256:0123456789abcdef", List.of(changes), List.of());
  }
}
