package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.PlantedLink;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import mockwebserver3.MockResponse;
import okio.Buffer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * `run`'s drift repair over a symbolic link planted where the agent writes (issue 12): the repair that puts back a
 * changed file must not write, chown or chmod through the link.
 */
class PlantedLinkRepairTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @TempDir
  Path tmp;

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "/var/run/secrets/tokens/istio-token, file, replaced",
      "/var/lib/istio/envoy/cluster.env, file, replaced",
      "/etc/istio/config/mesh, file, replaced",
      "/etc/certs/root-cert.pem, file, replaced",
      "/var/lib/istio/envoy/sidecar.env, file, replaced",
      "/etc/hosts, file, refused",
      "/var/lib/istio/envoy, directory, refused",
      "/var/run/secrets/tokens, directory, refused"})
  void theRepairNeverWritesThroughAPlantedLink(String systemPath, String kind, String expected) throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      servesSidecarEnvToo(h);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);

      PlantedLink planted = PlantedLink.at(h.root, systemPath, kind.equals("directory"));

      if (expected.equals("replaced")) {
        h.await(systemPath + " a file again", WAIT,
            () -> Files.isRegularFile(planted.link(), LinkOption.NOFOLLOW_LINKS));
      }
      h.await("a message naming " + systemPath, WAIT,
          () -> h.logs().lines().anyMatch(l -> l.contains(systemPath) && l.contains("symbolic link")));
      planted.assertTargetUntouched();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/run/istio-vm-agent/status.json", "/var/lib/istio-vm-agent/last-known-good.json"})
  void theAgentsOwnFilesReplaceAPlantedLink(String systemPath) throws Exception {
    try (DaemonHarness h = new DaemonHarness(tmp)) {
      PlantedLink planted = PlantedLink.at(h.root, systemPath, false);
      h.start();
      h.awaitMessage("READY=1"::equals, WAIT);
      h.await(systemPath + " a file again", WAIT,
          () -> Files.isRegularFile(planted.link(), LinkOption.NOFOLLOW_LINKS));
      planted.assertTargetUntouched();
      assertTrue(systemPath.endsWith("status.json") || h.logs().contains("is a symbolic link"), h.logs());
    }
  }

  private static void servesSidecarEnvToo(DaemonHarness h) {
    h.respond.set(r -> {
      Map<BundleFile, byte[]> files = SampleBundle.generate(SampleBundle.Spec.defaults(), h.clock.instant());
      files.put(BundleFile.SIDECAR_ENV, "ISTIO_SVC_IP=10.0.0.3\n".getBytes(StandardCharsets.UTF_8));
      return new MockResponse.Builder().body(new Buffer().write(TarGzWriter.write(files))).build();
    });
  }
}
