package io.istiovmagent.verify;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.util.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The claims of istio-token, a Kubernetes service-account JWT. Its signature cannot be checked on the VM (the
 * cluster's signing keys are not here; istiod checks it); what is checked is that it is a JWT meant for Istio's CA,
 * for this workload, and usable now. Holds no part of the token itself.
 */
public record TokenClaims(String subject, List<String> audiences, Instant expiresAt, Instant notBefore,
    Instant issuedAt, String algorithm) {

  public static final String AUDIENCE = "istio-ca";
  /** Clock skew tolerated for nbf: a freshly minted token on a VM whose clock is a little behind. */
  static final Duration NBF_SKEW = Duration.ofSeconds(60);
  private static final Pattern SHAPE = Pattern.compile("[A-Za-z0-9_-]+={0,2}\\.[A-Za-z0-9_-]+={0,2}\\.[A-Za-z0-9_-]*={0,2}");
  private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).maxStringLength(64 * 1024).build())
      .build());

  /** Only a token with a subject, an audience, an expiry and an algorithm is a verified one. */
  public TokenClaims {
    Objects.requireNonNull(subject, "subject == null");
    Objects.requireNonNull(audiences, "audiences == null");
    Objects.requireNonNull(expiresAt, "expiresAt == null");
    Objects.requireNonNull(algorithm, "algorithm == null");
    audiences = List.copyOf(audiences);
  }

  /** How long the token was valid for when issued, if it says when it was issued. */
  public Duration lifetime() {
    Instant from = issuedAt != null ? issuedAt : notBefore;
    return from == null ? null : Duration.between(from, expiresAt);
  }

  /**
   * Parses and checks the token against the namespace and service account from cluster.env (null when those are
   * unknown because cluster.env itself failed). Records problems; returns null if there was any.
   */
  static TokenClaims parse(byte[] bytes, String namespace, String serviceAccount, Instant now, boolean timeAsWarning,
      Problems problems) {
    String file = "istio-token";
    String text = problems.text(file, bytes);
    if (text == null) {
      return null;
    }
    String jwt = text.strip();
    if (!SHAPE.matcher(jwt).matches()) {
      problems.error(file, "token-format", "is not a JWT (three base64url parts separated by dots)");
      return null;
    }
    String[] parts = jwt.split("\\.", -1);
    JsonNode header = decode(parts[0], "header", problems);
    JsonNode claims = decode(parts[1], "payload", problems);
    if (header == null || claims == null) {
      return null;
    }
    int before = problems.errorCount();
    String alg = header.path("alg").isTextual() ? header.get("alg").asText() : null;
    if (alg == null || alg.isBlank()) {
      problems.error(file, "token-alg", "the JWT header names no signing algorithm ('alg')");
    } else if (alg.strip().equalsIgnoreCase("none")) {
      problems.error(file, "token-alg", "the JWT is unsigned (alg 'none'); a service-account token is always signed");
    }
    Instant exp = instant(claims, "exp", problems);
    Instant nbf = instant(claims, "nbf", problems);
    Instant iat = instant(claims, "iat", problems);
    if (exp == null && !present(claims, "exp")) {
      problems.error(file, "token-exp", "has no expiry ('exp'); generate it with istioctl, which sets one");
    } else if (exp != null && !exp.isAfter(now)) {
      problems.report(timeAsWarning, file, "token-expired", "expired at " + exp + " (" + Durations.human(Duration.between(exp, now))
          + " ago); fetch a fresh bundle with `istioctl x workload entry configure`");
    }
    if (nbf != null && nbf.isAfter(now.plus(NBF_SKEW))) {
      problems.report(timeAsWarning, file, "token-not-yet-valid", "is not valid before " + nbf + " (in "
          + Durations.human(Duration.between(now, nbf)) + "); check this machine's clock");
    }
    List<String> aud = audiences(claims.get("aud"));
    if (aud == null) {
      problems.error(file, "token-audience", "has a malformed audience ('aud' must be a string or a list of strings)");
    } else if (!aud.contains(AUDIENCE)) {
      problems.error(file, "token-audience", "is not meant for Istio's CA: its audience "
          + Problems.shown(aud.toString(), 120) + " lacks '" + AUDIENCE
          + "'; generate it with `istioctl x workload entry configure` (it asks for that audience)");
    }
    String sub = claims.path("sub").isTextual() ? claims.get("sub").asText() : null;
    if (sub == null) {
      problems.error(file, "token-subject", "has no subject ('sub')");
    } else if (namespace != null && serviceAccount != null) {
      String expected = "system:serviceaccount:" + namespace + ":" + serviceAccount;
      if (!sub.equals(expected)) {
        problems.error(file, "token-subject", "is for '" + Problems.shown(sub, 120) + "' but cluster.env names '"
            + Problems.shown(expected, 120)
            + "' (namespace and SERVICE_ACCOUNT must match the token; see Istio #35249)");
      }
    }
    if (problems.errorCount() != before) {
      return null;
    }
    return new TokenClaims(sub, aud, exp, nbf, iat, alg);
  }

  private static JsonNode decode(String part, String what, Problems problems) {
    try {
      JsonNode node = JSON.readTree(Base64.getUrlDecoder().decode(stripPadding(part)));
      if (node == null || !node.isObject()) {
        problems.error("istio-token", "token-format", "the JWT " + what + " is not a JSON object");
        return null;
      }
      return node;
    } catch (IllegalArgumentException | java.io.IOException e) {
      problems.error("istio-token", "token-format", "the JWT " + what + " is not base64url-encoded JSON");
      return null;
    }
  }

  private static String stripPadding(String s) {
    int end = s.length();
    while (end > 0 && s.charAt(end - 1) == '=') {
      end--;
    }
    return s.substring(0, end);
  }

  /** JSON null is the same as missing, for every claim. */
  private static boolean present(JsonNode claims, String name) {
    JsonNode n = claims.get(name);
    return n != null && !n.isNull();
  }

  private static Instant instant(JsonNode claims, String name, Problems problems) {
    if (!present(claims, name)) {
      return null;
    }
    JsonNode n = claims.get(name);
    if (!n.isNumber() || n.asDouble() < 0 || n.asDouble() > 253402300799d) {
      problems.error("istio-token", "token-" + name, "claim '" + name + "' is not a valid NumericDate");
      return null;
    }
    return Instant.ofEpochSecond(n.asLong());
  }

  private static List<String> audiences(JsonNode aud) {
    if (aud == null || aud.isNull()) {
      return List.of();
    }
    if (aud.isTextual()) {
      return List.of(aud.asText());
    }
    if (!aud.isArray()) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (JsonNode a : aud) {
      if (!a.isTextual()) {
        return null;
      }
      out.add(a.asText());
    }
    return out;
  }
}
