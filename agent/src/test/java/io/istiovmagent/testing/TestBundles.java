package io.istiovmagent.testing;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.sample.SampleBundle;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Map;
import okhttp3.tls.HeldCertificate;

/** Bundles for tests, made here with claims and certificates of the test's choosing and a fixed clock. */
public final class TestBundles {
  public static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
  public static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  private TestBundles() {}

  /** A valid bundle in istioctl's formats, issued at {@link #NOW}; mutable, so a test can break one file. */
  public static Map<BundleFile, byte[]> valid() {
    return new EnumMap<>(SampleBundle.generate(SampleBundle.Spec.defaults(), NOW));
  }

  public static Map<BundleFile, byte[]> valid(Duration tokenLifetime) {
    return new EnumMap<>(SampleBundle.generate(SampleBundle.Spec.defaults().withTokenLifetime(tokenLifetime), NOW));
  }

  /** The istioctl sample kept in test resources; valid at {@link #NOW}. */
  public static Map<BundleFile, byte[]> istioctlSample() {
    Map<BundleFile, byte[]> files = new EnumMap<>(BundleFile.class);
    for (BundleFile f : new BundleFile[] {BundleFile.CLUSTER_ENV, BundleFile.MESH, BundleFile.ROOT_CERT,
        BundleFile.TOKEN, BundleFile.HOSTS}) {
      try (InputStream in = TestBundles.class.getResourceAsStream("/istioctl-sample/" + f.fileName())) {
        files.put(f, in.readAllBytes());
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
    return files;
  }

  public static RawBundle raw(Map<BundleFile, byte[]> files) {
    return new RawBundle(files);
  }

  public static Map<BundleFile, byte[]> with(Map<BundleFile, byte[]> files, BundleFile f, String content) {
    files.put(f, utf8(content));
    return files;
  }

  public static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  public static String text(Map<BundleFile, byte[]> files, BundleFile f) {
    return new String(files.get(f), StandardCharsets.UTF_8);
  }

  /** A JWT with this header and claims JSON and a fake signature (the agent cannot check signatures). */
  public static String jwt(String headerJson, String claimsJson) {
    Base64.Encoder enc = Base64.getUrlEncoder().withoutPadding();
    return enc.encodeToString(utf8(headerJson)) + "." + enc.encodeToString(utf8(claimsJson)) + "."
        + enc.encodeToString(utf8("not-a-real-signature"));
  }

  /** Claims for the default sample workload (vm-namespace/vm-sa), valid for an hour from NOW. */
  public static String claims() {
    return claims("system:serviceaccount:vm-namespace:vm-sa", "[\"istio-ca\"]", NOW.getEpochSecond(),
        NOW.plusSeconds(3600).getEpochSecond());
  }

  public static String claims(String sub, String audJson, long nbf, long exp) {
    return "{\"aud\":" + audJson + ",\"exp\":" + exp + ",\"iat\":" + nbf + ",\"nbf\":" + nbf + ",\"sub\":\"" + sub
        + "\"}";
  }

  public static final String RS256 = "{\"alg\":\"RS256\",\"kid\":\"k\"}";

  /** A CA certificate valid over [from, to]. */
  public static HeldCertificate ca(Instant from, Instant to) {
    return new HeldCertificate.Builder().certificateAuthority(0).commonName("test root")
        .organizationalUnit("cluster.local").validityInterval(from.toEpochMilli(), to.toEpochMilli()).build();
  }

  /** A leaf (not CA) certificate valid around NOW. */
  public static HeldCertificate leaf() {
    return new HeldCertificate.Builder().commonName("not a ca")
        .validityInterval(NOW.minusSeconds(3600).toEpochMilli(), NOW.plusSeconds(86_400).toEpochMilli()).build();
  }

  /** A fresh temporary root with /etc/passwd (root and istio-proxy as uid/gid 4242) and a typical /etc/hosts. */
  public static Path newRoot(Path dir, boolean withProxyUser) throws IOException {
    Path etc = Files.createDirectories(dir.resolve("etc"));
    String passwd = "root:x:0:0:root:/root:/bin/bash\n"
        + (withProxyUser ? "istio-proxy:x:" + PROXY_UID + ":" + PROXY_GID + "::/var/lib/istio:/usr/sbin/nologin\n" : "");
    Files.writeString(etc.resolve("passwd"), passwd);
    Files.writeString(etc.resolve("hosts"), FOREIGN_HOSTS);
    return dir;
  }

  public static final int PROXY_UID = 4242;
  public static final int PROXY_GID = 4243;
  public static final String FOREIGN_HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tvm-1.example.internal vm-1\n\n"
      + "# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\n"
      + "ff02::1 ip6-allnodes\n";
}
