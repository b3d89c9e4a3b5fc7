package io.istiovmagent.server;

import static io.istiovmagent.server.ServerFixture.ADMIN_TOKEN;
import static io.istiovmagent.server.ServerFixture.TOKEN;
import static io.istiovmagent.server.ServerFixture.report;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** STALE in GET /v1/vms: three missed heartbeats by the endpoint's clock, never after a STOPPING report. */
class VmStalenessTest {
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
  void aVmIsStaleOnlyAfterThreeMissedHeartbeats() throws Exception {
    assertEquals(200, f.post("/v1/health", TOKEN, report("m-1", "DEGRADED", 1, null)).code());

    f.clock.advance(Duration.ofSeconds(180)); // exactly three 60 s heartbeats: not yet
    assertEquals("DEGRADED", vm().get("status").asText());
    assertEquals(false, vm().get("stale").asBoolean());

    f.clock.advance(Duration.ofSeconds(1));
    assertEquals("STALE", vm().get("status").asText());
    assertEquals(true, vm().get("stale").asBoolean());
    assertEquals("2026-11-25T12:00:00Z", vm().get("lastSeen").asText(), "lastSeen stays the last report's arrival");

    assertEquals(200, f.post("/v1/health", TOKEN, report("m-1", "HEALTHY", 2, null)).code());
    assertEquals("HEALTHY", vm().get("status").asText(), "a new report ends STALE");
    assertEquals(false, vm().get("stale").asBoolean());
  }

  @Test
  void theVmsOwnHeartbeatIntervalCountsAndSixtySecondsIsTheDefault() throws Exception {
    f.post("/v1/health", TOKEN, report("m-1", "HEALTHY", 1, null).replace("\"heartbeatSeconds\":60",
        "\"heartbeatSeconds\":10"));
    f.post("/v1/health", TOKEN, report("m-2", "HEALTHY", 1, null).replace(",\"heartbeatSeconds\":60", ""));

    f.clock.advance(Duration.ofSeconds(31));
    assertEquals("STALE", vm("m-1").get("status").asText());
    assertEquals("HEALTHY", vm("m-2").get("status").asText());
    f.clock.advance(Duration.ofSeconds(150));
    assertEquals("STALE", vm("m-2").get("status").asText());
  }

  @Test
  void aVmWhoseLastReportWasStoppingIsNeverStale() throws Exception {
    f.post("/v1/health", TOKEN, report("m-1", "STOPPING", 9, null));
    f.clock.advance(Duration.ofDays(2));
    assertEquals("STOPPING", vm().get("status").asText());
    assertEquals(false, vm().get("stale").asBoolean());
  }

  private JsonNode vm() throws Exception {
    return vm("m-1");
  }

  private JsonNode vm(String machineId) throws Exception {
    ServerFixture.Reply r = f.get("/v1/vms", ADMIN_TOKEN);
    assertEquals(200, r.code(), r.text());
    for (JsonNode vm : r.json().get("vms")) {
      if (vm.get("machineId").asText().equals(machineId)) {
        return vm;
      }
    }
    throw new AssertionError("no " + machineId + " in " + r.text());
  }
}
