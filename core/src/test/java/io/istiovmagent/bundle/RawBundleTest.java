package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RawBundleTest {
  private static Map<BundleFile, byte[]> files(String token, String env) {
    Map<BundleFile, byte[]> m = new EnumMap<>(BundleFile.class);
    m.put(BundleFile.CLUSTER_ENV, env.getBytes(StandardCharsets.UTF_8));
    m.put(BundleFile.MESH, "defaultConfig: {}\n".getBytes(StandardCharsets.UTF_8));
    m.put(BundleFile.TOKEN, token.getBytes(StandardCharsets.US_ASCII));
    return m;
  }

  /** A freshly minted token changes the revision but not the configuration's. */
  @Test
  void theConfigRevisionIgnoresTheTokenOnly() {
    RawBundle a = new RawBundle(files("token-a", "A=1\n"));
    RawBundle b = new RawBundle(files("token-b", "A=1\n"));
    RawBundle c = new RawBundle(files("token-a", "A=2\n"));
    assertNotEquals(a.revision(), b.revision());
    assertEquals(a.configRevision(), b.configRevision());
    assertNotEquals(a.configRevision(), c.configRevision());
    assertTrue(a.configRevision().matches("sha256:[0-9a-f]{64}"), a.configRevision());

    Map<BundleFile, byte[]> noToken = files("x", "A=1\n");
    noToken.remove(BundleFile.TOKEN);
    assertEquals(a.configRevision(), new RawBundle(noToken).revision(), "the revision of the rest, as one");
  }
}
