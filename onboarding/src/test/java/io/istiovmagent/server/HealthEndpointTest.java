package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.OTHER_TOKEN;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static io.istiovmagent.server.ServerFixture.report;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.istiovmagent.bundle.DirectoryReader;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** POST /v1/health and GET /v1/vms over real HTTPS: validation, authorisation, hints, the reports file. */
class HealthEndpointTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private ServerFixture f;
  private String revision;

  @BeforeEach
  void start() throws Exception {
    f = ServerFixture.start(tmp);
    revision = DirectoryReader.read(f.groupDir()).revision();
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void anAcceptedReportIsSummarisedInTheVmListExactlyAsTheProtocolShows() throws Exception {
    f.clock.advance(java.time.Duration.ofSeconds(1));
    ServerFixture.Reply r = f.post("/v1/health", TOKEN, report("5f0c6d1e00004000800000000000001", "HEALTHY", 17,
        revision));
    assertEquals(200, r.code(), r.text());
    assertEquals("{\"accepted\":true,\"hints\":{\"fetchBundleNow\":false}}", r.text());

    ServerFixture.Reply vms = f.get("/v1/vms", ADMIN_TOKEN);
    assertEquals(200, vms.code(), vms.text());
    assertEquals("application/json", vms.header("Content-Type"));
    assertEquals("{\"vms\":[{\"machineId\":\"5f0c6d1e00004000800000000000001\",\"hostname\":\"vm-1\","
        + "\"namespace\":\"vm-namespace\",\"group\":\"hello-vm\",\"status\":\"HEALTHY\",\"reasons\":[],"
        + "\"sidecar\":\"active/running\",\"ready\":true,\"bundleRevision\":\"" + revision + "\","
        + "\"lastSeen\":\"2026-11-25T12:00:01Z\",\"stale\":false,\"sequence\":17}],\"bundleProblems\":[]}",
        vms.text());
  }

  @Test
  void theLatestReportPerVmWinsAndVmsAreKeyedByMachineIdElseHostname() throws Exception {
    f.post("/v1/health", TOKEN, report("m-1", "HEALTHY", 1, revision));
    f.post("/v1/health", TOKEN, report("m-1", "DEGRADED", 2, revision).replace("\"reasons\":[]",
        "\"reasons\":[\"Envoy not ready (HTTP 503)\"]"));
    f.post("/v1/health", TOKEN, report("m-2", "HEALTHY", 1, revision));
    f.post("/v1/health", TOKEN, report("m-x", "UNHEALTHY", 1, revision)
        .replace("\"machineId\":\"m-x\"", "\"machineId\":null").replace("\"vm-1\"", "\"vm-by-name\""));

    JsonNode vms = f.get("/v1/vms", ADMIN_TOKEN).json().get("vms");
    assertEquals(3, vms.size(), vms.toString());
    assertEquals("DEGRADED", find(vms, "m-1").get("status").asText());
    assertEquals("Envoy not ready (HTTP 503)", find(vms, "m-1").get("reasons").get(0).asText());
    assertEquals(2, find(vms, "m-1").get("sequence").asLong());
    JsonNode byName = find(vms, null);
    assertEquals("vm-by-name", byName.get("hostname").asText());
    assertEquals("UNHEALTHY", byName.get("status").asText());
    assertEquals(List.of(new VmRegistry.HistoryEntry(ServerFixture.START, "2026-11-25T12:00:01Z", "HEALTHY", 1, ""),
        new VmRegistry.HistoryEntry(ServerFixture.START, "2026-11-25T12:00:01Z", "DEGRADED", 2,
            "Envoy not ready (HTTP 503)")),
        f.server.registry().history(new VmRegistry.Key("vm-namespace", "hello-vm", "m-1")));
  }

  @Test
  void hintsFetchBundleNowWhenTheVmHasAnotherRevisionThanTheGroupsBundle() throws Exception {
    assertFalse(hint(report("m-1", "HEALTHY", 1, revision)));
    assertTrue(hint(report("m-1", "HEALTHY", 2, "sha256:" + "0".repeat(64))));
    assertTrue(hint(report("m-1", "HEALTHY", 3, null)), "a VM without a bundle should fetch one");

    Files.writeString(f.groupDir().resolve("hosts"), "192.0.2.99 istiod.istio-system.svc\n"); // istioctl again
    assertTrue(hint(report("m-1", "HEALTHY", 4, revision)), "after istioctl ran again, the old revision is stale");
    assertFalse(hint(report("m-1", "HEALTHY", 5, DirectoryReader.read(f.groupDir()).revision())));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "not JSON | {\"status\": | the body is not valid JSON",
      "not an object | [] | must be a JSON object",
      "empty | '' | the body is empty",
      "missing status | REPORT:\"status\":\"HEALTHY\",=> | 'status' is missing",
      "unknown status | REPORT:\"HEALTHY\"=>\"SLEEPY\" | 'status' is 'SLEEPY'; it must be one of DEGRADED, HEALTHY, STOPPING, UNHEALTHY",
      "status not a string | REPORT:\"HEALTHY\"=>5 | 'status' must be a string",
      "sequence as text | REPORT:\"sequence\":17=>\"sequence\":\"17\" | 'sequence' must be an integer",
      "sequence beyond 64 bits | REPORT:\"sequence\":17=>\"sequence\":99999999999999999999 | 'sequence' is out of range for a 64-bit integer",
      "nested too deep | REPORT:\"protocol\":1,=>\"protocol\":1,\"unknown\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]], | nests too deep",
      "sequence zero | REPORT:\"sequence\":17=>\"sequence\":0 | 'sequence' must be a positive integer",
      "sequence fractional | REPORT:\"sequence\":17=>\"sequence\":1.5 | 'sequence' must be an integer",
      "observedAt not RFC 3339 | REPORT:2026-11-25T12:00:01Z=>yesterday | 'observedAt' must be an RFC 3339 time",
      "observedAt without offset | REPORT:2026-11-25T12:00:01Z=>2026-11-25T12:00:01 | 'observedAt' must be an RFC 3339 time",
      "no host ids | REPORT:\"vm-1\",\"machineId\":\"5f0c6d1e00004000800000000000001\"=>null,\"machineId\":\" \" | 'host.machineId' or 'host.hostname' is required",
      "no workload group | REPORT:\"group\":\"hello-vm\"=>\"group\":null | 'workload.namespace' and 'workload.group' are required",
      "reasons not a list | REPORT:\"reasons\":[]=>\"reasons\":\"none\" | 'reasons' must be a list",
      "ready as text | REPORT:\"ready\":true=>\"ready\":\"true\" | 'sidecar.ready' must be true or false",
      "ready as a number | REPORT:\"ready\":true=>\"ready\":1 | 'sidecar.ready' must be true or false",
      "heartbeat zero | REPORT:\"heartbeatSeconds\":60=>\"heartbeatSeconds\":0 | 'agent.heartbeatSeconds' must be between 1 and 86400",
      "two values | REPORT:APPEND{} | the body holds more than one JSON value",
      "trailing garbage | REPORT:APPEND] | the body is not valid JSON"})
  void refusesBadReportsWith400AndAReasonButNoStackTrace(String name, String body, String reason) throws Exception {
    ServerFixture.Reply r = f.post("/v1/health", TOKEN, body(body));
    assertEquals(400, r.code(), r.text());
    JsonNode json = r.json();
    assertEquals(1, json.size(), "only an error field: " + r.text());
    assertTrue(json.get("error").asText().contains(reason), r.text());
    for (String leak : new String[] {"Exception", "at com.", "at io.", "jackson", "\tat "}) {
      assertFalse(r.text().contains(leak), r.text());
    }
    assertFalse(Files.exists(f.reports), "a refused report is not written");
    assertEquals(0, f.server.registry().size());
  }

  @Test
  void unknownFieldsAreIgnoredAndNotStored() throws Exception {
    String body = report("m-1", "HEALTHY", 1, revision).replace("\"protocol\":1,",
        "\"protocol\":1,\"futureField\":{\"nested\":[1,2,3]},");
    assertEquals(200, f.post("/v1/health", TOKEN, body).code());
    assertFalse(Files.readString(f.reports).contains("futureField"));
  }

  @Test
  void aBodyOver64KiBIs400AndOneOfExactly64KiBIsAccepted() throws Exception {
    String base = report("m-1", "HEALTHY", 1, revision);
    String exact = base.replace("\"reasons\":[]", "\"reasons\":[\"" + "r".repeat(65_536 - base.length() - 2)
        + "\"]");
    assertEquals(65_536, exact.getBytes(StandardCharsets.UTF_8).length);
    assertEquals(200, f.post("/v1/health", TOKEN, exact).code());

    String over = exact.replace("\"reasons\":[\"", "\"reasons\":[\"r");
    ServerFixture.Reply r = f.post("/v1/health", TOKEN, over);
    assertEquals(400, r.code());
    assertTrue(r.json().get("error").asText().contains("larger than 65536 bytes"), r.text());

    ServerFixture.Reply big = f.post("/v1/health", TOKEN, "x".repeat(Router.MAX_DRAIN_BYTES));
    assertEquals(400, big.code(), "read past and dropped, so the sender sees the reason");
    assertTrue(big.json().get("error").asText().contains("larger than 65536 bytes"), big.text());
    assertEquals(1, f.server.registry().history(new VmRegistry.Key("vm-namespace", "hello-vm", "m-1")).size(),
        "only the report of exactly 64 KiB was kept");
  }

  @Test
  void anOversizedBodyIsReadToItsEndSoThatItsSenderSeesTheReason() throws Exception {
    int length = 300_000; // over the limit, under the most the endpoint reads past it
    try (SSLSocket s = f.rawSocket()) {
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN
          + "\r\nContent-Type: application/json\r\nContent-Length: " + length + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[length / 3]);
      out.flush();
      s.setSoTimeout(300);
      // An HTTP/1.1 client reads only after sending: an answer now, and a close, would reach it as a reset.
      assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read(),
          "the endpoint answered before the body ended");
      out.write(new byte[length - length / 3]);
      out.flush();
      s.setSoTimeout(10_000);
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(answer.startsWith("HTTP/1.1 400 "), answer);
      assertTrue(answer.endsWith("{\"error\":\"the body is larger than 65536 bytes; a health report is at most 64 "
          + "KiB\"}"), answer);
    }
  }

  @Test
  void aReportForAnotherGroupIs403AndNotStored() throws Exception {
    ServerFixture.Reply r = f.post("/v1/health", OTHER_TOKEN, report("m-1", "HEALTHY", 1, revision));
    assertEquals(403, r.code());
    assertTrue(r.json().get("error").asText().contains("this join token is for vm-namespace/other-vm, not for the "
        + "report's workload vm-namespace/hello-vm"), r.text());
    assertEquals(0, f.server.registry().size());
    assertEquals(403, f.post("/v1/health", ADMIN_TOKEN, report("m-1", "HEALTHY", 1, revision)).code());
  }

  @Test
  void theVmListNeedsAnAdminToken() throws Exception {
    ServerFixture.Reply r = f.get("/v1/vms", TOKEN);
    assertEquals(403, r.code());
    assertTrue(r.json().get("error").asText().contains("admin"), r.text());
    assertEquals(405, f.post("/v1/vms", ADMIN_TOKEN, "{}").code());
    assertEquals(405, f.get("/v1/health", TOKEN).code());
  }

  @Test
  void theReportsFileHasOneCompactLinePerAcceptedReportAndNeverAJoinToken() throws Exception {
    f.clock.advance(java.time.Duration.ofSeconds(5));
    f.post("/v1/health", TOKEN, report("m-1", "HEALTHY", 1, revision));
    f.post("/v1/health", TOKEN, "{\"status\":\"HEALTHY\"}"); // refused
    f.post("/v1/health", OTHER_TOKEN, report("m-1", "HEALTHY", 2, revision)); // refused
    f.post("/v1/health", TOKEN, report("m-1", "DEGRADED", 2, revision));
    // An agent that (wrongly) puts its token in a report: accepted, but the token is not kept anywhere.
    f.post("/v1/health", TOKEN, report("m-1", "DEGRADED", 3, revision).replace("\"reasons\":[]",
        "\"reasons\":[\"Authorization: Bearer " + TOKEN + "\"]"));

    String text = Files.readString(f.reports);
    List<String> lines = text.lines().toList();
    assertEquals(3, lines.size(), text);
    List<Long> sequences = new ArrayList<>();
    for (String line : lines) {
      JsonNode n = JSON.readTree(line);
      assertEquals("2026-11-25T12:00:05Z", n.get("receivedAt").asText());
      assertEquals("vm-namespace", n.get("workload").get("namespace").asText());
      assertEquals(line.strip(), line, "compact, one line");
      sequences.add(n.get("sequence").asLong());
    }
    assertEquals(List.of(1L, 2L, 3L), sequences);
    assertEquals("Authorization: Bearer [redacted]", JSON.readTree(lines.get(2)).get("reasons").get(0).asText());
    for (String t : new String[] {TOKEN, OTHER_TOKEN}) {
      assertFalse(text.contains(t), "join token in the reports file");
      assertFalse(f.get("/v1/vms", ADMIN_TOKEN).text().contains(t), "join token in the VM list");
    }
    assertTrue(f.log().contains("<4>a health report for vm-namespace/hello-vm carried its join token"), f.log());
  }

  @Test
  void sendsNoFetchBundleNowHintWhenItHasNoBundleForTheGroup() throws Exception {
    // "false" would tell the agent its bundle is current, and postpone its refresh; with nothing to serve (a fetch
    // gets 404) the endpoint confirms nothing.
    try (var files = Files.list(f.groupDir())) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(f.groupDir());
    assertEquals(404, f.get("/v1/bundle/vm-namespace/hello-vm", TOKEN).code());
    ServerFixture.Reply r = f.post("/v1/health", TOKEN, report("m-1", "HEALTHY", 1, revision));
    assertEquals(200, r.code(), r.text());
    assertEquals("{\"accepted\":true,\"hints\":{}}", r.text());
  }

  private boolean hint(String body) throws Exception {
    ServerFixture.Reply r = f.post("/v1/health", TOKEN, body);
    assertEquals(200, r.code(), r.text());
    return r.json().get("hints").get("fetchBundleNow").asBoolean();
  }

  private String body(String spec) {
    if (!spec.startsWith("REPORT:")) {
      return spec;
    }
    String base = report("5f0c6d1e00004000800000000000001", "HEALTHY", 17, revision);
    String edit = spec.substring("REPORT:".length());
    if (edit.startsWith("APPEND")) {
      return base + edit.substring("APPEND".length());
    }
    String[] fromTo = edit.split("=>", -1);
    String changed = base.replace(fromTo[0], fromTo[1]);
    if (changed.equals(base)) {
      throw new AssertionError("the edit " + edit + " changed nothing");
    }
    return changed;
  }

  private static JsonNode find(JsonNode vms, String machineId) {
    for (JsonNode vm : vms) {
      if (machineId == null ? vm.get("machineId").isNull() : machineId.equals(vm.get("machineId").asText())) {
        return vm;
      }
    }
    throw new AssertionError("no VM " + machineId + " in " + vms);
  }
}
