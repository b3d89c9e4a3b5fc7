package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.OTHER_TOKEN;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HexFormat;
import okhttp3.Request;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Join tokens on the wire: 401 for no or unknown token on every path, 403 for another group, reloads. */
class JoinTokenAuthTest {
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

  /** The probes' endpoint needs no credential and says nothing but that the endpoint serves. */
  @Test
  void healthzAnswersWithoutACredential() throws Exception {
    ServerFixture.Reply r = f.get("/healthz", null);
    assertEquals(200, r.code(), r.text());
    assertEquals("{\"status\":\"serving\"}", r.text());
    assertEquals(405, f.post("/healthz", null, "{}").code());
  }

  /** A directory of istioctl output enrols nobody: 404, and the agent goes on with its join token. */
  @Test
  void enrolmentIsNotOfferedOverADirectory() throws Exception {
    ServerFixture.Reply r = f.post("/v1/enroll/vm-namespace/hello-vm", ServerFixture.TOKEN,
        "{\"machineId\":\"0123456789abcdef0123456789abcdef\"}");
    assertEquals(404, r.code(), r.text());
    assertTrue(r.text().contains("does not enrol VMs"), r.text());
    assertEquals(405, f.get("/v1/enroll/vm-namespace/hello-vm", ServerFixture.TOKEN).code());
  }

  @Test
  void aMissingTokenIs401OnEveryPathAndMethod() throws Exception {
    for (String p : new String[] {PATH, "/v1/bundle/vm-namespace/no-such-group", "/v1/vms", "/v1/health",
        "/nowhere", "/v1/bundle/..%2F../x"}) {
      ServerFixture.Reply r = f.get(p, null);
      assertEquals(401, r.code(), p);
      assertEquals("Bearer", r.header("WWW-Authenticate"), p);
      assertTrue(r.json().get("error").asText().contains("Authorization: Bearer"), p);
    }
    assertEquals(401, f.post("/v1/health", null, ServerFixture.report("m1", "HEALTHY", 1, null)).code());
    assertEquals(401, f.call(new Request.Builder().url(f.url(PATH)).header("Authorization", "Basic " + TOKEN)
        .build()).code(), "only the Bearer scheme carries a join token");
  }

  @Test
  void aWrongTokenGetsTheSameAnswerForAnExistingAndAMissingGroup() throws Exception {
    ServerFixture.Reply existing = f.get(PATH, "jt-guessed-000000000000000000000000000000");
    ServerFixture.Reply missing = f.get("/v1/bundle/vm-namespace/no-such-group", "jt-guessed-000000000000000000000000000000");
    ServerFixture.Reply noPath = f.get("/nowhere", "jt-guessed-000000000000000000000000000000");

    assertEquals(401, existing.code());
    assertEquals(401, missing.code());
    assertArrayEquals(existing.body(), missing.body());
    assertArrayEquals(existing.body(), noPath.body());
    assertEquals(existing.headers().names(), missing.headers().names());
    assertEquals(0, f.server.store().directoryReads(), "an unauthenticated request never reaches the bundles");
  }

  @Test
  void aKnownTokenForAnotherGroupIs403() throws Exception {
    ServerFixture.Reply r = f.get(PATH, OTHER_TOKEN);
    assertEquals(403, r.code());
    assertTrue(r.json().get("error").asText().contains("not for vm-namespace/hello-vm"), r.text());
    assertEquals(403, f.get("/v1/bundle/vm-namespace/no-such-group", OTHER_TOKEN).code(),
        "403, not 404: the token learns nothing about other groups either");
  }

  @Test
  void aTokenListedByItsSha256Digest() throws Exception {
    String digest = HexFormat.of().formatHex(JoinTokens.sha256("jt-hashed-token-7f6e5d4c3b2a1908"));
    f.writeTokens("tokens:\n  - sha256: " + digest.toUpperCase() + "\n    namespace: vm-namespace\n"
        + "    group: hello-vm\n");
    assertEquals(200, f.get(PATH, "jt-hashed-token-7f6e5d4c3b2a1908").code());
    assertEquals(401, f.get(PATH, digest).code(), "the digest itself is not a token");
  }

  @Test
  void aChangedTokenFileTakesEffectWithoutARestart() throws Exception {
    assertEquals(200, f.get(PATH, TOKEN).code());
    f.writeTokens("tokens:\n  - token: jt-rotated-4c3b2a19087f6e5d\n    namespace: vm-namespace\n"
        + "    group: hello-vm\n");
    assertEquals(401, f.get(PATH, TOKEN).code(), "the removed token stops working");
    assertEquals(200, f.get(PATH, "jt-rotated-4c3b2a19087f6e5d").code());
    assertTrue(f.log().contains("<5>re-read join tokens from " + f.tokensFile + ": 1 tokens"), f.log());
  }

  @Test
  void aBrokenTokenFileKeepsThePreviousTokensAndSaysSoOnceWithoutTheToken() throws Exception {
    f.writeTokens("tokens:\n  - token: jt-leaky-9999999999999999\n    namespace: [vm-namespace\n");
    assertEquals(200, f.get(PATH, TOKEN).code());
    assertEquals(200, f.get(PATH, TOKEN).code());
    String log = f.log();
    assertEquals(1, log.lines().filter(l -> l.startsWith("<3>") && l.contains("previous tokens stay in force"))
        .count(), log);
    assertFalse(log.contains("jt-leaky"), log);
  }

  @Test
  void tokensNeverAppearInTheLog() throws Exception {
    f.get(PATH, TOKEN);
    f.get(PATH, "jt-guessed-000000000000000000000000000000");
    f.get("/v1/vms", ADMIN_TOKEN);
    f.post("/v1/health", TOKEN, ServerFixture.report("m1", "HEALTHY", 1, null));
    String log = f.log();
    assertTrue(log.contains("GET /v1/bundle/vm-namespace/hello-vm -> 200"), "debug logging is on: " + log);
    // With the endpoint's own timing, which bench/p5-fleet reads (EndpointLog).
    assertTrue(java.util.regex.Pattern.compile("GET /v1/bundle/vm-namespace/hello-vm -> 200 \\(\\d+\\.\\d\\d ms; "
        + "\\d+\\.\\d\\d ms with queue and TLS\\)").matcher(log).find(), log);
    for (String t : new String[] {TOKEN, ADMIN_TOKEN, "jt-guessed"}) {
      assertFalse(log.contains(t), t + " in:\n" + log);
    }
  }
}
