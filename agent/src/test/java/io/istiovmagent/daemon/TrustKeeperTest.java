package io.istiovmagent.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.testing.TestTls;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.X509TrustManager;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's trust: read at start, read again on reload when the system store was rewritten, logged once. */
class TrustKeeperTest {
  private static final HeldCertificate OLD = TestTls.newCa("CA in the store at start");
  private static final HeldCertificate ADDED = TestTls.newCa("company CA added later with update-ca-certificates");

  @TempDir
  Path root;

  private final ByteArrayOutputStream logged = new ByteArrayOutputStream();
  private final Log log = new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), false);
  private RootFs fs;
  private TrustKeeper keeper;
  private MockWebServer added;

  @BeforeEach
  void setUp() throws IOException {
    fs = new RootFs(root);
    keeper = new TrustKeeper(fs, log);
    Files.createDirectories(root.resolve("etc/ssl/certs"));
    added = TestTls.startHttps(TestTls.serverCert(ADDED, "localhost"), ADDED);
  }

  @AfterEach
  void stop() {
    added.close();
  }

  @Test
  void aCaAddedToTheStoreIsTrustedAfterAReloadWithoutARestart() throws Exception {
    AgentConfig c = AgentConfig.defaults();
    writeStore(OLD.certificatePem());
    X509TrustManager atStart = keeper.of(c);
    assertThrows(SSLHandshakeException.class, () -> get(atStart));
    BundleInputs bundleBefore = BundleInputs.of(c, fs);
    ReporterKeeper.Inputs reporterBefore = ReporterKeeper.Inputs.of(c, fs);

    writeStore(OLD.certificatePem() + ADDED.certificatePem()); // as update-ca-certificates: a new file renamed over

    // The same configuration on reload: the bundle side and the reporter see the store changed and rebuild ...
    assertNotEquals(bundleBefore, BundleInputs.of(c, fs));
    assertNotEquals(reporterBefore, ReporterKeeper.Inputs.of(c, fs));
    // ... and the trust they are rebuilt with holds the new CA.
    X509TrustManager reloaded = keeper.of(c);
    assertEquals(200, get(reloaded));
    assertEquals(2, count("HTTPS trusts the system store /etc/ssl/certs/ca-certificates.crt"), logged.toString());
  }

  @Test
  void oneReadingServesEveryUserAndIsLoggedOnce() throws Exception {
    AgentConfig c = AgentConfig.defaults();
    writeStore(OLD.certificatePem());

    assertSame(keeper.of(c), keeper.of(c), "the bundle side and the reporter share one reading");
    assertEquals(1, count("HTTPS trusts"), logged.toString());
  }

  @Test
  void withoutAStoreTheFallBackIsSaidOnce() throws Exception {
    AgentConfig c = AgentConfig.defaults();
    keeper.of(c);
    keeper.of(c);
    assertEquals(1, count("<5>no /etc/ssl/certs/ca-certificates.crt (is the ca-certificates package installed?)"),
        logged.toString());
  }

  @Test
  void aStoreBrokenOnReloadIsAnErrorAndAFixedOneIsReadAgain() throws Exception {
    AgentConfig c = AgentConfig.defaults();
    writeStore("not a certificate");
    SourceConfigException e = assertThrows(SourceConfigException.class, () -> keeper.of(c));
    assertTrue(e.getMessage().contains("/etc/ssl/certs/ca-certificates.crt"), e.getMessage());
    assertThrows(SourceConfigException.class, () -> keeper.of(c), "the failure stands until the store changes");

    writeStore(ADDED.certificatePem());
    assertEquals(200, get(keeper.of(c)));
  }

  @Test
  void underCaFileAloneTheStoreIsNotPartOfWhatIsBuilt() throws Exception {
    Path ca = TestTls.writeCaPem(Files.createDirectories(root.resolve("opt")), ADDED);
    AgentConfig c = ConfigLoader.parse("config.yaml", "bundle:\n  caFile: " + ca + "\n  trust: caFile\n");
    writeStore(OLD.certificatePem());
    BundleInputs before = BundleInputs.of(c, fs);

    writeStore(OLD.certificatePem() + OLD.certificatePem());

    assertEquals(FileStamp.ABSENT, TrustKeeper.storeStamp(c, fs));
    assertEquals(before, BundleInputs.of(c, fs), "a store rewrite does not restart a pinned bundle side");
    assertEquals(200, get(keeper.of(c)));
  }

  private void writeStore(String pem) throws IOException {
    Path tmp = Files.writeString(root.resolve("etc/ssl/certs/ca-certificates.crt.new"), pem);
    Files.move(tmp, root.resolve("etc/ssl/certs/ca-certificates.crt"), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  private int get(X509TrustManager trust) throws IOException {
    added.enqueue(new MockResponse.Builder().code(200).build());
    try (Response r = HttpsClients.client(trust, Duration.ofSeconds(2), false).newCall(new Request.Builder()
        .url(added.url("/").newBuilder().host("localhost").build()).build()).execute()) {
      return r.code();
    }
  }

  private long count(String line) {
    return logged.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains(line)).count();
  }
}
