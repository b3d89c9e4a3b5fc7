package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GoJsonTest {
  /** ISTIO_METAJSON_LABELS: the labels plus the canonical pair, keys sorted, no spaces, HTML-escaped. */
  @Test
  void writesLabelsAsGoMarshalsAMap() {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("version", "v1");
    labels.put("app", "foo");
    labels.put(CanonicalService.NAME_LABEL, "foo");
    labels.put(CanonicalService.REVISION_LABEL, "v1");
    labels.put("team", "a&b <c>");
    assertEquals("{\"app\":\"foo\",\"service.istio.io/canonical-name\":\"foo\","
        + "\"service.istio.io/canonical-revision\":\"v1\",\"team\":\"a\\u0026b \\u003cc\\u003e\",\"version\":\"v1\"}",
        GoJson.object(labels));
    assertEquals("{}", GoJson.object(Map.of()));
  }

  @Test
  void escapesStringsAsGoDoes() {
    assertEquals("\"q\\\"b\\\\\"", GoJson.string("q\"b\\"));
    assertEquals("\"\\b\\f\\n\\r\\t\\u0001\\u001f\u007f\"", GoJson.string("\b\f\n\r\t\u0001\u001f\u007f"));
    assertEquals("\"\\u2028\\u2029ü😀\"", GoJson.string("\u2028\u2029ü\uD83D\uDE00"));
    assertEquals("\"\\ufffd\"", GoJson.string("\uD800"));
  }

  /** Keys in byte order: upper case before lower case, a prefix first, UTF-8 after ASCII. */
  @Test
  void sortsKeysByteByByte() {
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : new String[] {"b", "B", "ab", "a", "é", "_", "1"}) {
      m.put(k, "");
    }
    assertEquals("{\"1\":\"\",\"B\":\"\",\"_\":\"\",\"a\":\"\",\"ab\":\"\",\"b\":\"\",\"é\":\"\"}", GoJson.object(m));
  }

  @Test
  void theCanonicalServiceComesFromTheFirstLabelPresent() {
    assertEquals(new CanonicalService("g", "latest"), CanonicalService.of(Map.of(), "g"));
    assertEquals(new CanonicalService("a", "v"), CanonicalService.of(Map.of("app", "a", "version", "v"), "g"));
    assertEquals(new CanonicalService("k", "kv"), CanonicalService.of(Map.of("app", "a", "app.kubernetes.io/name",
        "k", "version", "v", "app.kubernetes.io/version", "kv"), "g"));
    assertEquals(new CanonicalService("c", "cr"), CanonicalService.of(Map.of(CanonicalService.NAME_LABEL, "c",
        "app", "a", CanonicalService.REVISION_LABEL, "cr"), "g"));
    assertEquals(new CanonicalService("", "latest"), CanonicalService.of(Map.of("app", ""), "g"),
        "present, even empty, counts");
  }

  @Test
  void writesPodPortsSortedByName() {
    Map<String, Integer> ports = new LinkedHashMap<>();
    ports.put("http", 8080);
    ports.put("grpc", 9090);
    assertEquals("[{\"name\":\"grpc\",\"containerPort\":9090,\"protocol\":\"\"},"
        + "{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"\"}]", GoJson.podPorts(ports));
    assertEquals("[]", GoJson.podPorts(Map.of()));
  }
}
