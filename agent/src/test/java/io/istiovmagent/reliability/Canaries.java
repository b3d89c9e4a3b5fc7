package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.ProofSummary;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Recognisable secrets, and a scanner that looks for any trace of them in what the agent and the endpoint emit.
 *
 * <p>The join tokens hold a marker ({@code JOINCANARY}, {@code ADMINCANARY}); every istio-token made here is a JWT
 * that passes verification (ES256-shaped, audience istio-ca, the sample workload's subject) whose header carries
 * {@code KIDCANARY}, whose claims carry {@code CLAIMCANARY} (in {@code jti}, a claim no message has reason to name)
 * and whose signature part begins with {@code SIGCANARY}. A scan looks for each whole token, each of a JWT's three
 * parts, the join tokens' Base64, and every marker alone, so a message that prints a token, a part of one, or its
 * decoded claims is caught. Claims that messages name on purpose (aud, sub, exp, nbf) hold no marker.
 */
final class Canaries {
  static final String[] MARKERS = {"JOINCANARY", "ADMINCANARY", "KIDCANARY", "CLAIMCANARY", "SIGCANARY"};
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();
  private static final String B64URL_CHARS =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  final String joinToken = "JOINCANARY-" + hex(16);
  final String adminToken = "ADMINCANARY-" + hex(16);
  /** Every needle looked for; grows with each token made. */
  private final Set<String> needles = new LinkedHashSet<>();
  private final List<String> leaks = new ArrayList<>();
  private int scanned;

  Canaries() {
    for (String m : MARKERS) {
      needles.add(m);
    }
    addSecret(joinToken);
    addSecret(adminToken);
  }

  /** Another join token (wrong, or another group's), looked for as well. */
  String anotherJoinToken() {
    String t = "JOINCANARY-" + hex(16);
    addSecret(t);
    return t;
  }

  private void addSecret(String s) {
    needles.add(s);
    needles.add(Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.US_ASCII)));
  }

  // --- istio-tokens ---

  /** A valid istio-token for the sample workload, issued at {@code now}. */
  String istioToken(Instant now, Duration lifetime) {
    return istioToken("ES256", "[\"istio-ca\"]", "system:serviceaccount:vm-namespace:vm-sa", now, now,
        now.plus(lifetime));
  }

  /** A token with the given algorithm, audience (JSON), subject and times; registered as a secret. */
  String istioToken(String alg, String audJson, String sub, Instant iat, Instant nbf, Instant exp) {
    String header = "{\"alg\":\"" + alg + "\",\"kid\":\"KIDCANARY-" + hex(8) + "\",\"typ\":\"JWT\"}";
    String claims = "{\"aud\":" + audJson + ",\"exp\":" + exp.getEpochSecond() + ",\"iat\":" + iat.getEpochSecond()
        + ",\"nbf\":" + nbf.getEpochSecond() + ",\"iss\":\"https://kubernetes.default.svc.cluster.local\""
        + ",\"jti\":\"CLAIMCANARY-" + hex(8) + "\""
        + ",\"kubernetes.io\":{\"namespace\":\"vm-namespace\",\"serviceaccount\":{\"name\":\"vm-sa\"}}"
        + ",\"sub\":\"" + sub + "\"}";
    return register(B64URL.encodeToString(utf8(header)) + "." + B64URL.encodeToString(utf8(claims)) + "."
        + signature());
  }

  /** Registers a token-like secret made elsewhere: the whole and, for a JWT, each part. */
  String register(String token) {
    needles.add(token);
    for (String part : token.split("\\.")) {
      if (part.length() >= 16) { // a part too short to be unique would match unrelated text
        needles.add(part);
      }
    }
    return token;
  }

  /** An ES256-sized signature part (86 base64url characters) that starts with the marker. */
  private static String signature() {
    StringBuilder sb = new StringBuilder("SIGCANARY");
    while (sb.length() < 86) {
      sb.append(B64URL_CHARS.charAt(RANDOM.nextInt(B64URL_CHARS.length())));
    }
    return sb.toString();
  }

  /** The sample bundle (istioctl's formats, issued at {@code now}) holding {@code token} as its istio-token. */
  static Map<BundleFile, byte[]> bundleWith(String token, Instant now) {
    Map<BundleFile, byte[]> files = new EnumMap<>(SampleBundle.generate(SampleBundle.Spec.defaults(), now));
    files.put(BundleFile.TOKEN, utf8(token + "\n"));
    return files;
  }

  // --- scanning ---

  /**
   * Scans one output. Empty outputs are not counted (there was nothing to leak into); {@code mustHaveContent}
   * makes an empty one a failure, for channels a scenario is known to write to.
   */
  void scan(String where, String text, boolean mustHaveContent) {
    if (text == null || text.isEmpty()) {
      assertTrue(!mustHaveContent, where + " is empty: the scan would prove nothing");
      return;
    }
    scanned++;
    for (String n : needles) {
      int at = text.indexOf(n);
      if (at >= 0) {
        int from = Math.max(0, at - 60);
        int to = Math.min(text.length(), at + n.length() + 20);
        leaks.add(where + ": " + (n.length() > 24 ? n.substring(0, 24) + "..." : n) + " in <"
            + text.substring(from, to).replace('\n', ' ') + ">");
        return; // one leak per output is enough to name it
      }
    }
  }

  void scan(String where, String text) {
    scan(where, text, true);
  }

  void scanFile(String where, Path file) throws IOException {
    assertTrue(Files.exists(file), where + ": " + file + " does not exist: the scan would prove nothing");
    scan(where, Files.readString(file, StandardCharsets.UTF_8), true);
  }

  /** An exception as a user or a log would see it: message, and the whole stack trace with every cause. */
  void scanThrowable(String where, Throwable t) {
    scan(where + " (message)", String.valueOf(t.getMessage()), true);
    StringWriter sw = new StringWriter();
    t.printStackTrace(new PrintWriter(sw));
    scan(where + " (stack trace)", sw.toString(), true);
  }

  int scanned() {
    return scanned;
  }

  List<String> leaks() {
    return List.copyOf(leaks);
  }

  /** Adds this test's figures to the summary, then fails on any leak. */
  void assertNoLeaks() {
    ProofSummary.add("secrets", "outputs scanned", scanned);
    ProofSummary.add("secrets", "leaks", leaks.size());
    scanned = 0;
    List<String> found = List.copyOf(leaks);
    leaks.clear();
    assertTrue(found.isEmpty(), "secrets leaked:\n  " + String.join("\n  ", found));
  }

  static String hex(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
