package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostsHelpersTest {
  @Test
  void gatewayNamesComeFromDiscoveryAddressAndCaAddrAndObeyThePolicy() throws Exception {
    Map<BundleFile, byte[]> files = TestBundles.valid();
    String env = TestBundles.text(files, BundleFile.CLUSTER_ENV)
        + "CA_ADDR='istiod-1-24.istio-system.svc:15012'\n";
    TestBundles.with(files, BundleFile.CLUSTER_ENV, env);
    TestBundles.with(files, BundleFile.HOSTS, "");
    VerifiedBundle b = new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(files));
    assertEquals(List.of("istiod.istio-system.svc", "istiod-1-24.istio-system.svc"), GatewayHosts.istiodNames(b, Set.of()));

    List<HostsEntry> entries = GatewayHosts.entries(List.of("istiod.istio-system.svc"), List.of(
        InetAddress.getByName("192.0.2.1"), InetAddress.getByName("127.0.0.1"), InetAddress.getByName("2001:db8::5"),
        InetAddress.getByName("192.0.2.1")));
    assertEquals(List.of(new HostsEntry("192.0.2.1", List.of("istiod.istio-system.svc")),
        new HostsEntry("2001:db8::5", List.of("istiod.istio-system.svc"))), entries);
  }

  @ParameterizedTest
  @CsvSource({"2001:db8:0:0:0:0:0:5,2001:db8::5", "0:0:0:0:0:0:0:1,::1", "fe80:0:0:1:0:0:0:1,fe80:0:0:1::1",
      "2001:db8:1:2:3:4:5:6,2001:db8:1:2:3:4:5:6", "2001:0:0:1:0:0:0:0,2001:0:0:1::", "1:0:2:0:3:0:4:0,1:0:2:0:3:0:4:0"})
  void writesIpv6AsPeopleDo(String full, String expected) throws Exception {
    assertEquals(expected, GatewayHosts.rfc5952(InetAddress.getByName(full).getAddress()));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "'manage_etc_hosts: true'        | true",
      "'manage_etc_hosts: localhost'   | true",
      "'  manage_etc_hosts: \"template\"' | true",
      "'manage_etc_hosts: false'       | false",
      "'# manage_etc_hosts: true'      | false"})
  void warnsOnceWhenCloudInitManagesEtcHosts(String line, boolean warns, @TempDir Path root) throws Exception {
    Files.createDirectories(root.resolve("etc/cloud/cloud.cfg.d"));
    Files.writeString(root.resolve("etc/cloud/cloud.cfg.d/50-user.cfg"), "#cloud-config\n" + line + "\n");
    Optional<String> w = CloudInitHosts.warning(new RootFs(root));
    assertEquals(warns, w.isPresent(), w.toString());
    w.ifPresent(text -> assertTrue(text.contains("manage_etc_hosts: false") && text.contains("/etc/cloud/cloud.cfg.d/50-user.cfg"), text));
  }
}
