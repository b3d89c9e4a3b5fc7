package io.istiovmagent.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * istio-start.sh sources cluster.env with bash. Proves, with the real bash, that every accepted quoting form means
 * what the parser thinks it means, and that the canonical file the agent installs gives bash the same values.
 */
class EnvFileBashTest {
  private static final String ACCEPTED = "# a comment\n"
      + "\n"
      + "PLAIN=abc/def:1,2@x%y+z=w.v_u-t\n"
      + "QUOTED='hello world'\n"
      + "EMPTY=''\n"
      + "JSON='{\"app\":\"hello-vm\",\"a b\":\"c\"}'\n"
      + "STAR='*'\n"
      + "QUOTE_IDIOM_1='it'\\''s'\n"
      + "QUOTE_IDIOM_2='it'\"'\"'s'\n"
      + "MIXED=a'b c'd\n"
      + "BACKSLASH='a\\b'\n"
      + "TRAILING='x'   # trailing comment\n"
      + "  INDENTED='y'\n"
      + "TAB='a\tb'\n";

  @TempDir
  Path dir;

  @Test
  void bashSeesTheValuesTheParserSees() throws Exception {
    Problems problems = new Problems();
    EnvFile env = EnvFile.parse("cluster.env", ACCEPTED.getBytes(StandardCharsets.UTF_8), problems);
    assertNotNull(env, problems.errors().toString());
    assertEquals(bash(ACCEPTED, env.values().keySet()), env.values());
    assertEquals("it's", env.get("QUOTE_IDIOM_1"));
    assertEquals("ab cd", env.get("MIXED"));
  }

  @Test
  void canonicalFileGivesBashTheSameValues() throws Exception {
    Problems problems = new Problems();
    EnvFile env = EnvFile.parse("cluster.env", ACCEPTED.getBytes(StandardCharsets.UTF_8), problems);
    String canonical = new String(env.canonicalBytes(), StandardCharsets.UTF_8);
    assertEquals(env.values(), bash(canonical, env.values().keySet()));
    EnvFile again = EnvFile.parse("cluster.env", env.canonicalBytes(), new Problems());
    assertNotNull(again, "the canonical form must itself be accepted");
    assertEquals(canonical, new String(again.canonicalBytes(), StandardCharsets.UTF_8));
  }

  /** Sources the text the way istio-start.sh does and reads each variable back, NUL-separated. */
  private Map<String, String> bash(String text, Iterable<String> keys) throws IOException, InterruptedException {
    Path file = dir.resolve("cluster.env");
    Files.writeString(file, text);
    StringBuilder script = new StringBuilder("set -a; . \"$1\"; set +a;");
    for (String k : keys) {
      script.append(" printf '%s=%s\\0' ").append(k).append(" \"$").append(k).append("\";");
    }
    Process p = new ProcessBuilder("bash", "-c", script.toString(), "bash", file.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("bash failed to source the file");
    }
    Map<String, String> values = new LinkedHashMap<>();
    for (String pair : new String(out, StandardCharsets.UTF_8).split("\0")) {
      int eq = pair.indexOf('=');
      values.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return values;
  }
}
