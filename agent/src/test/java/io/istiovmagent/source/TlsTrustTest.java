package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.config.AgentConfig.Trust;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TestTls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whom HTTPS trusts (bundle.trust), against real TLS servers on loopback: the system store of a temporary root,
 * bundle.caFile, both, or caFile alone, and how a missing, broken or planted store is met.
 */
class TlsTrustTest {
  private static final HeldCertificate COMPANY = TestTls.newCa("company CA, put in the system store");
  private static final HeldCertificate OTHER = TestTls.newCa("another CA of the system store");
  private static final HeldCertificate PINNED = TestTls.newCa("private CA, in bundle.caFile");
  private static final HeldCertificate STRANGER = TestTls.newCa("a CA in neither");
  private static final String STORE = "etc/ssl/certs/ca-certificates.crt";

  @TempDir
  Path root;

  @TempDir
  Path etc; // bundle.caFile is read as written, not under the root

  private RootFs fs;
  private Path caFile;
  private final List<MockWebServer> servers = new ArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    fs = new RootFs(root);
    caFile = TestTls.writeCaPem(etc, PINNED);
  }

  @AfterEach
  void stop() {
    servers.forEach(MockWebServer::close);
  }

  @Test
  void trustsAServerWhoseCaIsOnlyInTheSystemStore() throws Exception {
    writeStore(OTHER.certificatePem() + COMPANY.certificatePem());

    TlsTrust.Loaded t = TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs));

    assertEquals(200, get(t.manager(), COMPANY));
    assertEquals(200, get(t.manager(), OTHER), "every CA of the bundle counts, not just the first");
    assertRefused(t.manager(), PINNED);
    assertEquals("the system store /etc/ssl/certs/ca-certificates.crt", t.summary());
    assertEquals(Optional.empty(), t.notice());
  }

  @Test
  void theDefaultTrustsTheSystemStoreAndCaFileButNoOtherCa() throws Exception {
    writeStore(COMPANY.certificatePem());

    TlsTrust.Loaded t = TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.of(caFile), fs));

    assertEquals(200, get(t.manager(), COMPANY));
    assertEquals(200, get(t.manager(), PINNED));
    assertRefused(t.manager(), STRANGER);
    assertEquals("the system store /etc/ssl/certs/ca-certificates.crt + bundle.caFile " + caFile, t.summary());
  }

  @Test
  void caFileAloneRefusesTheSystemStoresCaWithAClearErrorAndTrustsItsOwn() throws Exception {
    writeStore(COMPANY.certificatePem());
    TlsTrust.Spec pinned = new TlsTrust.Spec(Trust.CA_FILE_ONLY, Optional.of(caFile), fs);
    MockWebServer company = server(COMPANY);

    BundleSource source = BundleSources.open("https://localhost:" + company.getPort() + "/v1/bundle/ns/group",
        new BundleSources.Transport(pinned.source(), Optional.empty(), Duration.ofSeconds(2), "test",
            Clock.systemUTC(), HttpsClients.NO_EVENTS, Optional.empty()));
    SourceException e = assertThrows(SourceException.class, source::fetch);
    assertEquals(SourceException.Kind.TLS, e.kind());
    assertTrue(e.getMessage().contains("not signed by a trusted CA"), e.getMessage());

    TlsTrust.Loaded t = TlsTrust.load(pinned);
    assertEquals(200, get(t.manager(), PINNED));
    assertRefused(t.manager(), STRANGER);
    assertEquals("bundle.caFile " + caFile + " only (bundle.trust: caFile)", t.summary());
  }

  @Test
  void caFileAloneNeverReadsTheStoreSoABrokenOneDoesNotMatter() throws Exception {
    writeStore("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");

    TlsTrust.Loaded t = TlsTrust.load(new TlsTrust.Spec(Trust.CA_FILE_ONLY, Optional.of(caFile), fs));

    assertEquals(200, get(t.manager(), PINNED));
  }

  @Test
  void caFileAloneWithoutACaFileIsRefusedNotTurnedIntoTrustingNobody() {
    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.CA_FILE_ONLY, Optional.empty(), fs)));
    assertTrue(e.getMessage().contains("no CA file is set"), e.getMessage());
  }

  /** A minimal image without ca-certificates: the runtime's own list stands in (as before this setting), said once. */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void withoutAStoreTheRuntimesOwnListStandsInAndSaysSo(boolean certsDirExists) throws Exception {
    if (certsDirExists) {
      Files.createDirectories(root.resolve("etc/ssl/certs"));
    }

    TlsTrust.Loaded t = TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.of(caFile), fs));

    // Exactly the runtime's CAs plus caFile's one: the runtime's list, not an empty one, and nothing else.
    int runtime = runtimeCaCount();
    assertTrue(runtime > 0, "the test runtime ships CAs");
    assertEquals(runtime + 1, t.manager().getAcceptedIssuers().length);
    assertEquals(200, get(t.manager(), PINNED));
    assertRefused(t.manager(), COMPANY);
    assertTrue(t.summary().startsWith("the agent's runtime's own CA list (no /etc/ssl/certs/ca-certificates.crt)"),
        t.summary());
    assertTrue(t.notice().orElseThrow().contains("is the ca-certificates package installed?"), t.notice().get());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "not base64      | -----BEGIN CERTIFICATE-----\\nnot base64 at all!\\n-----END CERTIFICATE-----\\n"
          + " | is not a PEM bundle of certificates",
      "truncated       | TRUNCATED                                           | is not a PEM bundle of certificates",
      "empty           | ''                                                  | holds no certificate",
      "not PEM at all  | hello                                               | /etc/ssl/certs/ca-certificates.crt"})
  void aBrokenStoreIsAnErrorNamingTheFileAndWhatToDo(String name, String content, String expected) throws Exception {
    String pem = COMPANY.certificatePem();
    writeStore(content.equals("TRUNCATED") ? pem + pem.substring(0, pem.length() / 2) : content.replace("\\n", "\n"));

    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.of(caFile), fs)));
    assertTrue(e.getMessage().contains("/etc/ssl/certs/ca-certificates.crt"), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertTrue(e.getMessage().contains("update-ca-certificates"), e.getMessage());
  }

  @Test
  void aDirectoryInPlaceOfTheStoreIsAnError() throws Exception {
    Files.createDirectories(root.resolve(STORE));

    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs)));
    assertTrue(e.getMessage().contains("/etc/ssl/certs/ca-certificates.crt under " + root + " is not a regular file"),
        e.getMessage());
  }

  @Test
  void aLinkIstioProxyPlantedInPlaceOfTheStoreIsNotFollowed() throws Exception {
    Path planted = Files.writeString(root.resolve("stranger.pem"), STRANGER.certificatePem());
    Files.createDirectories(root.resolve("etc/ssl/certs"));
    Path link = Files.createSymbolicLink(root.resolve(STORE), Path.of("/stranger.pem"));
    Files.setAttribute(link, "unix:uid", TestBundles.PROXY_UID, LinkOption.NOFOLLOW_LINKS);
    Files.setAttribute(planted, "unix:uid", TestBundles.PROXY_UID);

    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs)));
    assertTrue(e.getMessage().contains("/etc/ssl/certs/ca-certificates.crt is a symbolic link owned by"),
        e.getMessage());
    assertTrue(e.getMessage().contains("rm /etc/ssl/certs/ca-certificates.crt"), e.getMessage());
  }

  @Test
  void aLinkInADirectoryOthersMayWriteIsNotFollowedEvenIfRootMadeIt() throws Exception {
    Path certs = Files.createDirectories(root.resolve("etc/ssl/certs"));
    Files.writeString(root.resolve("etc/ssl/bundle.pem"), COMPANY.certificatePem());
    Files.createSymbolicLink(root.resolve(STORE), Path.of("../bundle.pem"));
    Files.setPosixFilePermissions(certs, PosixFilePermissions.fromString("rwxrwxrwx"));

    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs)));
    assertTrue(e.getMessage().contains("is a symbolic link in /etc/ssl/certs, which a user other than root can change"),
        e.getMessage());
  }

  /** Another distribution's layout (Fedora's ca-bundle under /etc/pki): root's link, in root's directory. */
  @Test
  void rootsOwnLinkIsFollowedUnderTheRoot() throws Exception {
    Files.createDirectories(root.resolve("etc/pki/tls/certs"));
    Files.writeString(root.resolve("etc/pki/tls/certs/ca-bundle.crt"), COMPANY.certificatePem());
    Files.createDirectories(root.resolve("etc/ssl/certs"));
    Files.createSymbolicLink(root.resolve(STORE), Path.of("/etc/pki/tls/certs/ca-bundle.crt"));

    TlsTrust.Loaded t = TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs));

    assertEquals(200, get(t.manager(), COMPANY));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "store writable by others    | rw-rw-rw- | -1                   | a user other than root could change it",
      "store istio-proxy's         | rw-r--r-- | 4242                 | is owned by",
      "certs dir writable by group | rw-r--r-- | GROUP_WRITABLE_DIR   | which a user other than root can change"})
  void aStoreSomeoneElseCouldHaveWrittenIsRefused(String name, String mode, String owner, String expected)
      throws Exception {
    Path store = writeStore(COMPANY.certificatePem());
    Files.setPosixFilePermissions(store, PosixFilePermissions.fromString(mode));
    if (owner.equals("GROUP_WRITABLE_DIR")) {
      Files.setPosixFilePermissions(store.getParent(), PosixFilePermissions.fromString("rwxrwxr-x"));
    } else if (!owner.equals("-1")) {
      Files.setAttribute(store, "unix:uid", Integer.parseInt(owner));
    }

    SourceConfigException e = assertThrows(SourceConfigException.class,
        () -> TlsTrust.load(new TlsTrust.Spec(Trust.SYSTEM_AND_CA_FILE, Optional.empty(), fs)));
    assertTrue(e.getMessage().contains("/etc/ssl/certs/ca-certificates.crt"), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @CsvSource(delimiter = '|', value = {
      "system+caFile | true  | ''          | the system store /etc/ssl/certs/ca-certificates.crt",
      "system+caFile | true  | /etc/ca.pem | the system store /etc/ssl/certs/ca-certificates.crt"
          + " + bundle.caFile /etc/ca.pem",
      "system+caFile | false | ''          | the agent's runtime's own CA list (no /etc/ssl/certs/ca-certificates.crt)",
      "system+caFile | false | /etc/ca.pem | the agent's runtime's own CA list (no /etc/ssl/certs/ca-certificates.crt)"
          + " + bundle.caFile /etc/ca.pem",
      "caFile        | true  | /etc/ca.pem | bundle.caFile /etc/ca.pem only (bundle.trust: caFile)",
      "caFile        | false | /etc/ca.pem | bundle.caFile /etc/ca.pem only (bundle.trust: caFile)"})
  void describesTheTrustAsTheLogAndStatusSayIt(String mode, boolean store, String ca, String expected) {
    Optional<Path> caFile = ca.isEmpty() ? Optional.empty() : Optional.of(Path.of(ca));
    assertEquals(expected, TlsTrust.describe(Trust.of(mode).orElseThrow(), store, caFile));
  }

  private Path writeStore(String pem) throws IOException {
    Path store = root.resolve(STORE);
    Files.createDirectories(store.getParent());
    Files.writeString(store, pem, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rw-r--r--"));
    return store;
  }

  private MockWebServer server(HeldCertificate ca) throws IOException {
    MockWebServer s = TestTls.startHttps(TestTls.serverCert(ca, "localhost"), ca);
    servers.add(s);
    return s;
  }

  /** The status of a GET to a fresh server whose certificate {@code ca} signed. */
  private int get(X509TrustManager trust, HeldCertificate ca) throws IOException {
    MockWebServer s = server(ca);
    s.enqueue(new MockResponse.Builder().code(200).build());
    try (Response r = HttpsClients.client(trust, Duration.ofSeconds(2), false).newCall(new Request.Builder()
        .url(s.url("/").newBuilder().host("localhost").build()).build()).execute()) {
      return r.code();
    }
  }

  private void assertRefused(X509TrustManager trust, HeldCertificate ca) {
    assertThrows(SSLHandshakeException.class, () -> get(trust, ca));
  }

  private static int runtimeCaCount() throws Exception {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init((KeyStore) null);
    return ((X509TrustManager) tmf.getTrustManagers()[0]).getAcceptedIssuers().length;
  }
}
