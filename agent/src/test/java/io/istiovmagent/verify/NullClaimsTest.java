package io.istiovmagent.verify;

import static io.istiovmagent.testing.TestBundles.NOW;
import static io.istiovmagent.testing.TestBundles.RS256;
import static io.istiovmagent.testing.TestBundles.jwt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.testing.TestBundles;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** JSON {@code null} is the same as a missing claim, for every claim the verifier reads. */
class NullClaimsTest {
  private static final String SUB = "\"sub\":\"system:serviceaccount:vm-namespace:vm-sa\"";
  private static final String AUD = "\"aud\":[\"istio-ca\"]";
  private static final String EXP = "\"exp\":" + NOW.plusSeconds(3600).getEpochSecond();
  private static final String NBF = "\"nbf\":" + NOW.getEpochSecond();
  private static final String IAT = "\"iat\":" + NOW.getEpochSecond();

  private final BundleVerifier verifier = new BundleVerifier(TestBundles.CLOCK, Set.of());

  /** The claims of a valid token with {@code claim} left out, or set to null. */
  private static String claims(String claim, boolean asNull) {
    StringBuilder sb = new StringBuilder("{");
    for (String c : List.of(SUB, AUD, EXP, NBF, IAT)) {
      boolean target = c.startsWith("\"" + claim + "\"");
      if (target && !asNull) {
        continue;
      }
      sb.append(sb.length() > 1 ? "," : "").append(target ? "\"" + claim + "\":null" : c);
    }
    return sb.append("}").toString();
  }

  private List<String> rules(String header, String claims, boolean restore) {
    var files = TestBundles.with(TestBundles.valid(), BundleFile.TOKEN, jwt(header, claims));
    BadBundleException e = assertThrows(BadBundleException.class, () -> {
      if (restore) {
        verifier.verifyForRestore(TestBundles.raw(files));
      } else {
        verifier.verify(TestBundles.raw(files));
      }
    });
    return e.problems().stream().map(Problem::rule).toList();
  }

  @ParameterizedTest(name = "{0}: null is refused as missing is ({1})")
  @CsvSource({"exp, token-exp", "sub, token-subject", "aud, token-audience"})
  void aNullRequiredClaimIsRefusedWithTheRuleOfAMissingOne(String claim, String rule) {
    for (boolean restore : new boolean[] {false, true}) {
      List<String> missing = rules(RS256, claims(claim, false), restore);
      assertEquals(List.of(rule), missing);
      assertEquals(missing, rules(RS256, claims(claim, true), restore), "null " + claim + ", restore=" + restore);
    }
  }

  @Test
  void aNullAlgorithmIsRefusedAsAMissingOne() {
    String claims = claims("none-of-them", false);
    assertEquals(rules("{\"kid\":\"k\"}", claims, false), rules("{\"alg\":null}", claims, false));
  }

  @ParameterizedTest(name = "{0}: null is accepted as missing is")
  @CsvSource({"nbf", "iat"})
  void aNullOptionalClaimIsAcceptedAsAMissingOne(String claim) throws Exception {
    var files = TestBundles.with(TestBundles.valid(), BundleFile.TOKEN, jwt(RS256, claims(claim, true)));
    VerifiedBundle b = verifier.verify(TestBundles.raw(files));
    assertEquals(NOW.plusSeconds(3600), b.token().expiresAt());
    assertNull(claim.equals("nbf") ? b.token().notBefore() : b.token().issuedAt());
  }

  @Test
  void aTokenClaimsValueCannotBeMadeWithoutAnExpiry() {
    assertThrows(NullPointerException.class, () -> new TokenClaims("system:serviceaccount:a:b", List.of("istio-ca"),
        null, null, null, "RS256"));
    assertEquals(Instant.EPOCH, new TokenClaims("s", List.of("istio-ca"), Instant.EPOCH, null, null, "RS256")
        .expiresAt());
  }

  @Test
  void aNullDefaultConfigOrDiscoveryAddressInMeshYamlIsAsMissing() throws Exception {
    for (String mesh : List.of("defaultConfig: null\n", "defaultConfig:\n  discoveryAddress: null\n", "{}\n")) {
      var files = TestBundles.with(TestBundles.valid(), BundleFile.MESH, mesh);
      assertNull(verifier.verify(TestBundles.raw(files)).mesh().discoveryAddress(), mesh);
    }
  }
}
