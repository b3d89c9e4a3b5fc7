package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * go-yaml v2's output for the hard cases the facts file lists (and its own encode tests cover): what a plain scalar
 * would read back as, which characters forbid plain or single quotes, key order, folding past column 80, empty
 * collections, sequences in mappings. Expected bytes written from go-yaml's rules, not from this code.
 */
class GoYamlTest {
  private static String one(Object value) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("k", value);
    return GoYaml.marshal(m);
  }

  @ParameterizedTest(name = "[{0}] -> k: {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      // read back as something else: double-quoted
      "true          | \"true\"",
      "False         | \"False\"",
      "yes           | \"yes\"",
      "Y             | \"Y\"",
      "off           | \"off\"",
      "null          | \"null\"",
      "~             | \"~\"",
      "``            | \"\"",
      "8080          | \"8080\"",
      "-1            | \"-1\"",
      "0x1F          | \"0x1F\"",
      "0o17          | \"0o17\"",
      "0777          | \"0777\"",
      "08            | \"08\"",
      "1_000         | \"1_000\"",
      "1e3           | \"1e3\"",
      ".5            | \".5\"",
      ".inf          | \".inf\"",
      "-.Inf         | \"-.Inf\"",
      "0b101         | \"0b101\"",
      "1:20          | \"1:20\"",
      "2001-12-14    | \"2001-12-14\"",
      "2001-12-14t21:59:43.10Z | \"2001-12-14t21:59:43.10Z\"",
      "99999999999999999999 | \"99999999999999999999\"",
      // a float64 overflow is not a float to go-yaml: a string, plain
      "1e999         | 1e999",
      // strings go-yaml reads as strings: plain
      "yEs           | yEs",
      "nope          | nope",
      ".             | .",
      "+             | +",
      "2001-13-14    | 2001-13-14",
      "1.2.3         | 1.2.3",
      "a:b           | a:b",
      "a#b           | a#b",
      "http://x:8080/a | http://x:8080/a",
      "<<            | <<",
      "ü             | ü",
      "istiod.istio-system.svc:15012 | istiod.istio-system.svc:15012",
      // a plain scalar cannot: single-quoted
      "-             | '-'",
      "- a           | '- a'",
      "a: b          | 'a: b'",
      "a #b          | 'a #b'",
      "#a            | '#a'",
      "*             | '*'",
      "@x            | '@x'",
      "---x          | '---x'",
      "{\"a\":1}     | '{\"a\":1}'",
      "[a]           | '[a]'",
      "it's          | it's",
      "'q'           | '''q'''",
      "` lead`       | ' lead'",
      "`trail `      | 'trail '",
  })
  void quotesAStringAsGoYamlDoes(String value, String written) {
    assertEquals("k: " + written + "\n", one(value));
  }

  @Test
  void controlAndAstralCharactersAreEscapedInDoubleQuotes() {
    assertEquals("k: \"a\\tb\"\n", one("a\tb"));
    assertEquals("k: \"\\U0001F600\"\n", one("\uD83D\uDE00"));
    assertEquals("k: \"\\e[0m\"\n", one("\u001B[0m")); // ESC has a short escape of its own
    assertEquals("k: \"\\x01\"\n", one("\u0001"));
    assertEquals("k: \"a\\\"b\\\\\\t\"\n", one("a\"b\\\t"));
  }

  @Test
  void aLineBreakMakesALiteralBlock() {
    assertEquals("k: |-\n  a\n  b\n", one("a\nb"));
    assertEquals("k: |\n  a\n", one("a\n"));
    assertEquals("k: |+\n  a\n\n", one("a\n\n"));
    assertEquals("k: |2-\n   a\n  b\n", one(" a\nb"));
    // A trailing space forbids the block: double quotes, the break escaped.
    assertEquals("k: \"a\\nb \"\n", one("a\nb "));
  }

  @Test
  void numbersBooleansAndNullAsGoWritesThem() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("int", 8080);
    m.put("long", 9007199254740993L);
    m.put("float", 0.5);
    m.put("tiny", 0.00001);
    m.put("big", 1.5e21);
    m.put("on", true);
    m.put("nothing", null);
    // A key is quoted by the same rules as a value: "on" reads back as a bool.
    assertEquals("big: 1.5e+21\nfloat: 0.5\nint: 8080\nlong: 9007199254740993\nnothing: null\n\"on\": true\n"
        + "tiny: 1e-05\n", GoYaml.marshal(m));
  }

  @Test
  void keysInGoYamlsOrder() {
    List<String> keys = new ArrayList<>(List.of("b", "ISTIO_METAJSON_LABELS", "a", "ISTIO_META_WORKLOAD_NAME",
        "a10", "a9", "a1", "a01", "A", "_x", "1", "10", "2"));
    keys.sort((x, y) -> GoYaml.keyLess(x, y) ? -1 : GoYaml.keyLess(y, x) ? 1 : 0);
    // Two non-letters compare as the numbers their digit runs spell: "_x" spells none (0), so it comes first.
    assertEquals(List.of("_x", "1", "2", "10", "A", "ISTIO_META_WORKLOAD_NAME", "ISTIO_METAJSON_LABELS", "a", "a1",
        "a01", "a9", "a10", "b"), keys);
    assertTrue(GoYaml.keyLess("a", "ab"), "a prefix first");
    assertFalse(GoYaml.keyLess("a", "a"));
  }

  @Test
  void nestedMapsSequencesAndEmptyCollections() {
    Map<String, Object> port = new LinkedHashMap<>();
    port.put("port", 8080);
    port.put("name", "http");
    Map<String, Object> defaultConfig = new LinkedHashMap<>();
    defaultConfig.put("proxyMetadata", Map.of());
    defaultConfig.put("ports", List.of(port, Map.of("name", "grpc")));
    defaultConfig.put("hosts", List.of("a", "b"));
    defaultConfig.put("none", List.of());
    defaultConfig.put("nested", List.of(List.of("x", "y"), "z")); // "y" reads back as a bool in YAML 1.1
    assertEquals("""
        defaultConfig:
          hosts:
          - a
          - b
          nested:
          - - x
            - "y"
          - z
          none: []
          ports:
          - name: http
            port: 8080
          - name: grpc
          proxyMetadata: {}
        """, GoYaml.marshal(Map.of("defaultConfig", defaultConfig)));
    assertEquals("{}\n", GoYaml.marshal(Map.of()));
  }

  /** Past column 80 a plain or quoted scalar breaks at the next single space, continuing at its indent + 2. */
  @Test
  void foldsLongLinesAtSpacesPastColumn80() {
    String a85 = "a".repeat(85);
    assertEquals("k: " + a85 + "\n  b c\n", one(a85 + " b c"));
    assertEquals("k: '{" + a85 + "\n  b}'\n", one("{" + a85 + " b}"));
    assertEquals("k: \"\\t" + a85 + "\n  b\"\n", one("\t" + a85 + " b"));
    // Two spaces: plain cannot break before a space, so it breaks at none of them here (and keeps both).
    assertEquals("k: " + a85 + "  b\n", one(a85 + "  b"));
    // JSON without spaces is never folded.
    String json = "{\"" + "k".repeat(100) + "\":\"v\"}";
    assertEquals("k: '" + json + "'\n", one(json));
    // Nested: the continuation is at the value's indent + 2.
    assertEquals("a:\n  k: " + a85 + "\n    b\n", GoYaml.marshal(Map.of("a", Map.of("k", a85 + " b"))));
  }

  @Test
  void refusesWhatAMeshConfigNeverHolds() {
    Map<Object, Object> intKeys = new LinkedHashMap<>();
    intKeys.put(1, "x");
    assertThrows(IllegalArgumentException.class, () -> GoYaml.marshal(intKeys));
    assertThrows(IllegalArgumentException.class,
        () -> GoYaml.marshal(Map.of("k", Arrays.asList(new Object()))));
  }
}
