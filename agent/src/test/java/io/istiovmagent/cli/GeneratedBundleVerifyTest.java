package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.onboarding.OnboardingMain;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.Repo;
import io.istiovmagent.testing.TestBundles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the onboarding side's {@code generate} writes passes the agent's own {@code bundle verify}: the two programs
 * agree on the bundle through the files, not through shared code paths alone.
 */
class GeneratedBundleVerifyTest {
  @TempDir
  Path tmp;

  @Test
  void theAgentAcceptsWhatGenerateWrites() throws Exception {
    SampleBundle.Spec d = SampleBundle.Spec.defaults();
    Map<BundleFile, byte[]> sample = SampleBundle.generate(new SampleBundle.Spec("bar", "vm-serviceaccount", "foo",
        d.trustDomain(), d.istiodAddress(), d.tokenLifetime(), d.caLifetime()), TestBundles.CLOCK.instant());
    Path rootCert = Files.write(tmp.resolve("root.pem"), sample.get(BundleFile.ROOT_CERT));
    Path token = Files.write(tmp.resolve("token"), sample.get(BundleFile.TOKEN));
    Path cases = Repo.root().resolve("onboarding/src/test/resources/istioctl-cases/ipv6");
    Path out = tmp.resolve("bundle");
    StringWriter err = new StringWriter();
    int code = OnboardingMain.run(TestBundles.CLOCK, new PrintWriter(new StringWriter(), true),
        new PrintWriter(err, true), "generate", "-f", cases.resolve("workloadgroup.yaml").toString(),
        "--mesh-config", cases.resolve("meshconfig.yaml").toString(), "--cluster-id", "Kubernetes", "-r", "rev-1",
        "--root-cert", rootCert.toString(), "--token-file", token.toString(), "--ingress-ip", "fd00:10:96::2",
        "--internal-ip", "fd00:10:96::1", "-o", out.toString());
    assertEquals(0, code, err.toString());

    CliTest.Run r = CliTest.cli("bundle", "verify", out.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("bundle OK: "), r.out());
    assertTrue(r.out().contains("istiod-rev-1.istio-system.svc -> fd00:10:96::2"), r.out());
    assertTrue(r.out().contains("vm-serviceaccount"), r.out());
  }
}
