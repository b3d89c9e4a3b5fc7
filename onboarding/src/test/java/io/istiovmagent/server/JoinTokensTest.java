package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The token file: what it may say, how mistakes are reported (never quoting a token), how headers are matched. */
class JoinTokensTest {
  private static final String SECRET = "jt-s3cr3t-value-0123456789";

  @TempDir
  Path tmp;

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "unknown top-level key | tokens: []\\nextra: 1 | unknown key 'extra'",
      "no tokens list | tokens: {}\\n | needs a 'tokens:' list",
      "unknown entry key | tokens:\\n  - token: SECRET\\n    namespace: a\\n    group: b\\n    grp: c | tokens entry 1: unknown key 'grp'",
      "token and sha256 | tokens:\\n  - token: SECRET\\n    sha256: SECRET\\n    admin: true | needs exactly one of 'token'",
      "neither | tokens:\\n  - namespace: a\\n    group: b | needs exactly one of 'token'",
      "bad digest | tokens:\\n  - sha256: SECRET\\n    admin: true | 'sha256' must be 64 hex digits",
      "token with a space | tokens:\\n  - token: 'SECRET x'\\n    admin: true | printable ASCII without spaces",
      "numeric token | tokens:\\n  - token: 12345\\n    admin: true | quote it",
      "admin with a group | tokens:\\n  - token: SECRET\\n    admin: true\\n    namespace: a\\n    group: b | GET /v1/vms only",
      "no group | tokens:\\n  - token: SECRET\\n    namespace: a | needs 'namespace' and 'group'",
      "group not a DNS label | tokens:\\n  - token: SECRET\\n    namespace: a\\n    group: ../b | each a DNS label",
      "duplicate | tokens:\\n  - token: SECRET\\n    admin: true\\n  - token: SECRET\\n    namespace: a\\n    group: b | entries 1 and 2 hold the same token",
      "broken YAML | tokens:\\n  - token: SECRET\\n    namespace: [a\\n | is not valid YAML (at line 4, column 1)",
      "YAML error on the token's own line | tokens:\\n  - token: SECRET: x\\n | is not valid YAML (at line 2, column"})
  void refusesMistakesWithAReasonThatNeverQuotesTheToken(String name, String yaml, String expected) {
    String text = yaml.replace("\\n", "\n").replace("SECRET", SECRET);
    ServerConfigException e = assertThrows(ServerConfigException.class, () -> JoinTokens.parse("tokens.yaml", text));
    assertTrue(e.getMessage().startsWith("tokens.yaml: "), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
  }

  @Test
  void parsesGroupAndAdminEntries() throws Exception {
    List<JoinTokens.Entry> entries = JoinTokens.parse("t", "tokens:\n  - token: a1\n    namespace: ns\n    group: g\n"
        + "  - sha256: " + "ab".repeat(32) + "\n    admin: true\n");
    assertEquals(new Grant.Group("ns", "g"), entries.get(0).grant());
    assertEquals(new Grant.Admin(), entries.get(1).grant());
    assertTrue(entries.get(0).plain());
    assertFalse(entries.get(1).plain());
  }

  @Test
  void matchesOnlyOneBearerHeaderWithAKnownToken() throws Exception {
    JoinTokens t = load("tokens:\n  - token: abc-123\n    namespace: ns\n    group: g\n", "rw-------");
    assertEquals(Optional.of(new Grant.Group("ns", "g")), t.authenticate(List.of("Bearer abc-123")));
    assertEquals(Optional.of(new Grant.Group("ns", "g")), t.authenticate(List.of("bearer abc-123")));
    assertEquals(Optional.empty(), t.authenticate(List.of("Bearer abc-1234")));
    assertEquals(Optional.empty(), t.authenticate(List.of("Bearer abc-12")));
    assertEquals(Optional.empty(), t.authenticate(List.of("abc-123")));
    assertEquals(Optional.empty(), t.authenticate(List.of("Bearer ")));
    assertEquals(Optional.empty(), t.authenticate(List.of("Bearer abc-123", "Bearer abc-123")));
    assertEquals(Optional.empty(), t.authenticate(null));
  }

  @Test
  void aFileWithPlainTokensReadableByOthersIsRefused() throws Exception {
    ServerConfigException e = assertThrows(ServerConfigException.class,
        () -> load("tokens:\n  - token: abc\n    admin: true\n", "rw-r--r--"));
    assertTrue(e.getMessage().contains("readable by other users (mode 0644); run: chmod 600"), e.getMessage());
    // Digests are not secrets: such a file may be world-readable.
    load("tokens:\n  - sha256: " + "ab".repeat(32) + "\n    admin: true\n", "rw-r--r--");
  }

  private JoinTokens load(String yaml, String mode) throws Exception {
    Path file = tmp.resolve("tokens-" + System.nanoTime() + ".yaml");
    Files.writeString(file, yaml);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return JoinTokens.load(file, new Log(new PrintStream(new ByteArrayOutputStream()), false));
  }
}
