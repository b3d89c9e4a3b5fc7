package io.istiovmagent.onboarding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.Repo;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code istio-vm-onboarding generate}: istioctl's own cases byte for byte, the modes it writes, and that a bundle the
 * agent would refuse is never written.
 */
class GenerateCommandTest {
  private static final Path CASES = Repo.root().resolve("onboarding/src/test/resources/istioctl-cases");
  private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");

  @TempDir
  Path tmp;
  private Path rootCert;
  private Path token;
  private byte[] tokenBytes;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @BeforeEach
  void credentials() throws IOException {
    Map<BundleFile, byte[]> sample = SampleBundle.generate(spec("bar", "vm-serviceaccount"), NOW);
    rootCert = Files.write(tmp.resolve("root-cert.pem"), sample.get(BundleFile.ROOT_CERT));
    tokenBytes = sample.get(BundleFile.TOKEN);
    // as `kubectl create token` prints it: with a newline, which the bundle's token must not have
    token = Files.write(tmp.resolve("token"), (new String(tokenBytes, StandardCharsets.US_ASCII) + "\n")
        .getBytes(StandardCharsets.US_ASCII));
  }

  private static SampleBundle.Spec spec(String namespace, String serviceAccount) {
    SampleBundle.Spec d = SampleBundle.Spec.defaults();
    return new SampleBundle.Spec(namespace, serviceAccount, "foo", d.trustDomain(), d.istiodAddress(),
        d.tokenLifetime(), d.caLifetime());
  }

  private int run(String... args) {
    List<String> all = new ArrayList<>(List.of("generate"));
    all.addAll(Arrays.asList(args));
    return OnboardingMain.run(Clock.fixed(NOW.plusSeconds(60), ZoneOffset.UTC), new PrintWriter(out, true),
        new PrintWriter(err, true), all.toArray(String[]::new));
  }

  private List<String> caseArgs(String name, Path dir, String... flags) {
    List<String> args = new ArrayList<>(List.of("-f", CASES.resolve(name + "/workloadgroup.yaml").toString(),
        "--mesh-config", CASES.resolve(name + "/meshconfig.yaml").toString(), "--root-cert", rootCert.toString(),
        "--token-file", token.toString(), "-o", dir.toString()));
    args.addAll(Arrays.asList(flags));
    return args;
  }

  @ParameterizedTest
  @ValueSource(strings = {"ipv4", "ipv6", "nil-proxy-metadata"})
  void writesIstioctlsOwnCasesByteForByte(String name) throws IOException {
    String[] flags = switch (name) {
      case "ipv4" -> new String[] {"--internal-ip", "10.10.10.10", "--ingress-ip", "10.10.10.11", "--cluster-id",
          "Kubernetes", "--revision", "rev-1"};
      case "ipv6" -> new String[] {"--internal-ip", "fd00:10:96::1", "--ingress-ip", "fd00:10:96::2",
          "--cluster-id", "Kubernetes", "-r", "rev-1"};
      default -> new String[] {"--internal-ip", "10.10.10.10", "--cluster-id", "Kubernetes"};
    };
    Path dir = tmp.resolve("out-" + name);
    assertEquals(0, run(caseArgs(name, dir, flags).toArray(String[]::new)), err.toString());
    for (String f : List.of("cluster.env", "mesh.yaml", "hosts")) {
      assertEquals(Files.readString(CASES.resolve(name + "/" + f)), Files.readString(dir.resolve(f)), name + "/" + f);
    }
    assertArrayEquals(Files.readAllBytes(rootCert), Files.readAllBytes(dir.resolve("root-cert.pem")));
    assertArrayEquals(tokenBytes, Files.readAllBytes(dir.resolve("istio-token")), "the token without its newline");
    assertTrue(out.toString().contains("wrote " + dir + ": workload group bar/foo, service account vm-serviceaccount"),
        out.toString());
    assertFalse(out.toString().contains(new String(tokenBytes, StandardCharsets.US_ASCII)), "never the token");
    assertEquals(name.equals("nil-proxy-metadata"), err.toString().contains("warning: hosts is empty"), err.toString());
  }

  @Test
  void theTokenIsItsOwnersOnlyAndTheRestReadableNothingExecutable() throws IOException {
    Path dir = tmp.resolve("modes");
    assertEquals(0, run(caseArgs("ipv4", dir, "--cluster-id", "c1").toArray(String[]::new)), err.toString());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of("cluster.env", "hosts", "istio-token", "mesh.yaml", "root-cert.pem"),
          files.map(p -> p.getFileName().toString()).sorted().toList(), "the five files and no temporary one");
    }
    for (String f : List.of("cluster.env", "mesh.yaml", "hosts", "root-cert.pem")) {
      assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(f))), f);
    }
    assertEquals("rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("istio-token"))));
  }

  /** A symbolic link planted where a file goes is replaced by the file; its target is left alone. */
  @Test
  void replacesALinkInsteadOfWritingThroughIt() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("linked"));
    Path elsewhere = Files.writeString(tmp.resolve("elsewhere"), "keep me");
    Files.createSymbolicLink(dir.resolve("istio-token"), elsewhere);
    assertEquals(0, run(caseArgs("ipv4", dir, "--cluster-id", "c1").toArray(String[]::new)), err.toString());
    assertEquals("keep me", Files.readString(elsewhere));
    assertTrue(Files.isRegularFile(dir.resolve("istio-token"), LinkOption.NOFOLLOW_LINKS));
  }

  /** The token of another service account, an expired one: the agent would refuse the bundle, so nothing is written. */
  @Test
  void aBundleTheAgentWouldRefuseIsNotWritten() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("refused"));
    Files.writeString(dir.resolve("cluster.env"), "OLD=1\n");
    Files.write(token, SampleBundle.generate(spec("bar", "someone-else"), NOW).get(BundleFile.TOKEN));
    assertEquals(65, run(caseArgs("ipv4", dir, "--cluster-id", "c1").toArray(String[]::new)));
    assertTrue(err.toString().contains("nothing written"), err.toString());
    assertTrue(err.toString().contains("istio-token"), err.toString());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(1, files.count());
    }
    assertEquals("OLD=1\n", Files.readString(dir.resolve("cluster.env")));

    Files.write(token, SampleBundle.generate(spec("bar", "vm-serviceaccount").withTokenLifetime(Duration.ofMinutes(10)),
        NOW.minus(Duration.ofHours(2))).get(BundleFile.TOKEN));
    err.getBuffer().setLength(0);
    assertEquals(65, run(caseArgs("ipv4", dir, "--cluster-id", "c1").toArray(String[]::new)));
    assertTrue(err.toString().contains("expired"), err.toString());
  }

  @Test
  void takesTheClusterIdFromTheInjectorsValues() throws IOException {
    Path values = Files.writeString(tmp.resolve("values.json"),
        "{\"global\":{\"multiCluster\":{\"clusterName\":\"east\"},\"meshID\":\"m\"}}");
    Path dir = tmp.resolve("injector");
    assertEquals(0, run(caseArgs("ipv4", dir, "--injector-values", values.toString()).toArray(String[]::new)),
        err.toString());
    assertTrue(Files.readString(dir.resolve("cluster.env")).contains("ISTIO_META_CLUSTER_ID='east'\n"));

    Files.writeString(values, "{\"global\":{}}");
    assertEquals(0, run(caseArgs("ipv4", dir, "--injector-values", values.toString()).toArray(String[]::new)));
    assertTrue(Files.readString(dir.resolve("cluster.env")).contains("ISTIO_META_CLUSTER_ID=''\n"));
    assertTrue(err.toString().contains("warning: the cluster id is empty"), err.toString());

    Files.writeString(values, "{\"global\":{\"multiCluster\":{\"clusterName\":7}}}");
    assertEquals(65, run(caseArgs("ipv4", dir, "--injector-values", values.toString()).toArray(String[]::new)));
    assertTrue(err.toString().contains("clusterName in the injector values must be a string"), err.toString());
  }

  @Test
  void withoutDnsCaptureTheMeshsValueStaysAndAutoRegistrationNamesTheGroup() throws IOException {
    Path dir = tmp.resolve("flags");
    assertEquals(0, run(caseArgs("ipv4", dir, "--cluster-id", "c1", "--capture-dns=false", "--autoregister",
        "--external-ip", "203.0.113.7").toArray(String[]::new)), err.toString());
    String env = Files.readString(dir.resolve("cluster.env"));
    assertTrue(env.contains("ISTIO_META_DNS_CAPTURE='false'\n"), env);
    assertTrue(env.contains("ISTIO_META_AUTO_REGISTER_GROUP='foo'\n"), env);
    assertTrue(env.contains("ISTIO_SVC_IP='203.0.113.7'\n"), env);
    assertTrue(env.contains("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION='true'\n"), env);
  }

  @Test
  void usageErrorsSayWhatIsMissing() {
    assertEquals(64, run(caseArgs("ipv4", tmp.resolve("u")).toArray(String[]::new)));
    assertTrue(err.toString().contains("--cluster-id"), err.toString());
    err.getBuffer().setLength(0);
    assertEquals(64, run(caseArgs("ipv4", tmp.resolve("u"), "--cluster-id", "c", "--internal-ip", "10.0.0.1",
        "--external-ip", "10.0.0.2").toArray(String[]::new)));
    assertTrue(err.toString().contains("mutually exclusive"), err.toString());
    assertFalse(Files.exists(tmp.resolve("u")));
  }

  @Test
  void aMissingInputIsNamed() {
    List<String> args = caseArgs("ipv4", tmp.resolve("m"), "--cluster-id", "c");
    args.set(args.indexOf("--root-cert") + 1, tmp.resolve("nope.pem").toString());
    assertEquals(66, run(args.toArray(String[]::new)));
    assertTrue(err.toString().contains("--root-cert " + tmp.resolve("nope.pem") + " does not exist"), err.toString());
    assertFalse(Files.exists(tmp.resolve("m")));
  }
}
