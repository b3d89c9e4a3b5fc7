package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static io.istiovmagent.server.ServerFixture.UNBUILT_TOKEN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.DirectoryReader;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzReader;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import javax.net.ssl.SSLSocket;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GET /v1/bundle/{namespace}/{group} over real HTTPS, from a real directory of istioctl output. */
class BundleEndpointTest {
  private static final String PATH = "/v1/bundle/vm-namespace/hello-vm";

  @TempDir
  Path tmp;

  private ServerFixture f;

  @BeforeEach
  void start() throws Exception {
    f = ServerFixture.start(tmp);
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void servesTheGroupsBundleWithStrongEtagAndCacheControlThatReadsBackToTheSameRevision() throws Exception {
    ServerFixture.Reply r = f.get(PATH, TOKEN);

    assertEquals(200, r.code(), r.text());
    assertEquals("application/gzip", r.header("Content-Type"));
    assertEquals("max-age=300", r.header("Cache-Control"));
    RawBundle onDisk = DirectoryReader.read(f.groupDir());
    String hex = onDisk.revision().substring("sha256:".length());
    assertEquals("\"" + hex + "\"", r.header("ETag"), "strong ETag: the content hash, quoted, no W/");
    RawBundle served = TarGzReader.read(r.body());
    assertEquals(onDisk.revision(), served.revision());
    assertEquals(new RawBundle(f.files).revision(), served.revision());
    assertArrayEquals(f.files.get(BundleFile.TOKEN), served.file(BundleFile.TOKEN).orElseThrow());
  }

  @Test
  void answers304WithTheSameEtagAndCacheControlWhenIfNoneMatchNamesTheCurrentEtag() throws Exception {
    String etag = f.get(PATH, TOKEN).header("ETag");

    ServerFixture.Reply same = f.get(PATH, TOKEN, "If-None-Match", etag);
    assertEquals(304, same.code());
    assertEquals(etag, same.header("ETag"));
    assertEquals("max-age=300", same.header("Cache-Control"));
    assertEquals(0, same.body().length);

    ServerFixture.Reply listed = f.get(PATH, TOKEN, "If-None-Match", "\"0000\", W/" + etag);
    assertEquals(304, listed.code(), "a list, and a weak form of the tag, match too");

    ServerFixture.Reply other = f.get(PATH, TOKEN, "If-None-Match", "\"0000\"");
    assertEquals(200, other.code());
    assertEquals(etag, other.header("ETag"));
  }

  @Test
  void rerunningIstioctlChangesTheEtagWithoutARestartAndAnUnchangedDirectoryIsNotReadAgain() throws Exception {
    String before = f.get(PATH, TOKEN).header("ETag");
    long reads = f.server.store().directoryReads();
    assertEquals(before, f.get(PATH, TOKEN).header("ETag"));
    assertEquals(reads, f.server.store().directoryReads(), "an unchanged directory is served from the cache");

    byte[] newToken = (new String(f.files.get(BundleFile.TOKEN), StandardCharsets.US_ASCII) + "x")
        .getBytes(StandardCharsets.US_ASCII);
    Files.write(f.groupDir().resolve("istio-token"), newToken);

    ServerFixture.Reply after = f.get(PATH, TOKEN);
    assertEquals(200, after.code());
    assertNotEquals(before, after.header("ETag"));
    assertArrayEquals(newToken, TarGzReader.read(after.body()).file(BundleFile.TOKEN).orElseThrow());
    assertEquals(200, f.get(PATH, TOKEN, "If-None-Match", before).code(), "the old ETag no longer matches");
  }

  @Test
  void aRewriteThatKeepsSizeAndMtimeIsStillNoticed() throws Exception {
    String before = f.get(PATH, TOKEN).header("ETag");
    Path hosts = f.groupDir().resolve("hosts");
    FileTime mtime = Files.getLastModifiedTime(hosts);
    String old = Files.readString(hosts);
    Files.writeString(hosts, old.replace("192.0.2.10", "192.0.2.11")); // same length
    Files.setLastModifiedTime(hosts, mtime); // as cp -p or rsync -t would leave it

    ServerFixture.Reply after = f.get(PATH, TOKEN);
    assertNotEquals(before, after.header("ETag"));
    assertTrue(new String(TarGzReader.read(after.body()).file(BundleFile.HOSTS).orElseThrow(),
        StandardCharsets.US_ASCII).startsWith("192.0.2.11 "));
  }

  @Test
  void maxAgeIsConfigurable() throws Exception {
    f.close();
    f = ServerFixture.start(tmp.resolve("again"), b -> b.maxAge(Duration.ofSeconds(42)));
    assertEquals("max-age=42", f.get(PATH, TOKEN).header("Cache-Control"));
  }

  @Test
  void aGroupWithoutABundleYetIs404ForItsOwnToken() throws Exception {
    ServerFixture.Reply r = f.get("/v1/bundle/vm-namespace/not-yet", UNBUILT_TOKEN);
    assertEquals(404, r.code());
    assertTrue(r.json().get("error").asText().contains("no bundle for vm-namespace/not-yet yet"), r.text());
  }

  @Test
  void pathTraversalAndMalformedPathsAre404WithoutTouchingTheDisk() throws Exception {
    // A complete bundle just outside the bundle directory: what a traversal would try to reach.
    ServerFixture.writeBundle(tmp.resolve("outside").resolve("hello-vm"), f.files);
    for (String p : new String[] {"/v1/bundle/..%2F../x", "/v1/bundle/a/b/c", "/v1/bundle/vm-namespace/hello-vm/",
        "/v1/bundle/..%2Foutside/hello-vm", "/v1/bundle/vm-namespace/..%2F..%2Foutside%2Fhello-vm",
        "/v1/bundle/Vm-Namespace/hello-vm", "/v1/bundle/vm-namespace/hello-vm%00", "/v1/bundle/-x/hello-vm",
        "/v1/bundle/vm-namespace", "/v1/bundle//hello-vm", "/v1/bundle/" + "a".repeat(64) + "/hello-vm",
        "/v1/bundle/%76m-namespace/hello-vm"}) {
      ServerFixture.Reply r = f.get(p, TOKEN);
      assertEquals(404, r.code(), p + ": " + r.text());
      assertTrue(r.json().has("error"), p);
    }
    for (String raw : new String[] {"/v1/bundle/../outside", "/v1/bundle/../outside/hello-vm", "/v1/bundle/vm-namespace/../../outside/hello-vm",
        "/v1/bundle/./vm-namespace/hello-vm", "/v1/bundle/%2e%2e/hello-vm"}) {
      assertEquals(404, rawStatus(raw), raw + " sent as is, not normalised by a client");
    }
    assertEquals(0, f.server.store().directoryReads(), "no path above reached the bundle directory");
  }

  @Test
  void aSymlinkInTheBundleDirectoryIsNotServedAndTheLogSaysWhy() throws Exception {
    Path secret = Files.writeString(tmp.resolve("shadow"), "root:SECRET-HASH:19000:0:99999:7:::\n");
    Path token = f.groupDir().resolve("istio-token");
    Files.delete(token);
    Files.createSymbolicLink(token, secret);

    ServerFixture.Reply r = f.get(PATH, TOKEN);

    assertEquals(503, r.code());
    assertEquals("30", r.header("Retry-After"));
    assertFalse(r.text().contains("SECRET-HASH"));
    assertFalse(r.text().contains(tmp.toString()), "the answer does not reveal server paths: " + r.text());
    assertTrue(f.log().contains("<4>not serving bundle vm-namespace/hello-vm: the directory was refused: "
        + "directory: link: 'istio-token' is a symbolic link"), f.log());
  }

  @Test
  void aSymlinkedGroupDirectoryIsNotServed() throws Exception {
    Path elsewhere = tmp.resolve("elsewhere");
    ServerFixture.writeBundle(elsewhere, f.files);
    Path link = f.bundles.resolve("vm-namespace").resolve("other-vm");
    Files.createSymbolicLink(link, elsewhere);

    ServerFixture.Reply r = f.get("/v1/bundle/vm-namespace/other-vm", ServerFixture.OTHER_TOKEN);

    assertEquals(503, r.code(), r.text());
    assertTrue(f.log().contains("<4>not serving bundle vm-namespace/other-vm: the directory is or lies under a "
        + "symbolic link"), f.log());
  }

  @Test
  void anIncompleteDirectoryIsNotServed() throws Exception {
    Files.delete(f.groupDir().resolve("root-cert.pem"));
    assertEquals(503, f.get(PATH, TOKEN).code());
    assertTrue(f.log().contains("lacks root-cert.pem"), f.log());
  }

  @Test
  void adminTokensDoNotFetchBundles() throws Exception {
    assertEquals(403, f.get(PATH, ADMIN_TOKEN).code());
  }

  @Test
  void otherMethodsAre405AndUnknownPathsAre404() throws Exception {
    ServerFixture.Reply post = f.call(new Request.Builder().url(f.url(PATH)).header("Authorization", "Bearer " + TOKEN)
        .post(RequestBody.create(new byte[0])).build());
    assertEquals(405, post.code());
    assertEquals("GET", post.header("Allow"));
    assertTrue(post.json().has("error"));
    ServerFixture.Reply unknown = f.get("/v2/bundle/vm-namespace/hello-vm", TOKEN);
    assertEquals(404, unknown.code());
    assertTrue(unknown.json().get("error").asText().contains("GET /v1/bundle/{namespace}/{group}"));
  }

  /** Sends a request line exactly as given (OkHttp would resolve "." and ".." first) and returns the status. */
  private int rawStatus(String rawPath) throws Exception {
    try (SSLSocket s = f.rawSocket()) {
      OutputStream out = s.getOutputStream();
      out.write(("GET " + rawPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))
          .readLine();
      return Integer.parseInt(status.split(" ")[1]);
    }
  }
}
