package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `status` reads a status.json whose fields are JSON null (another agent version, a hand edit) as missing ones. */
class StatusNullsTest {
  @TempDir
  Path root;

  @Test
  void nullFieldsInStatusJsonArePrintedAsUnknownNotThrown() throws Exception {
    Path file = Files.createDirectories(root.resolve("run/istio-vm-agent")).resolve("status.json");
    Files.writeString(file, "{\"format\":1,\"pid\":" + ProcessHandle.current().pid() + ",\"version\":null,"
        + "\"startedAt\":null,\"updatedAt\":null,\"phase\":null,\"health\":null,\"reasons\":null,\"bundle\":null,"
        + "\"hosts\":null,\"sidecar\":{\"managed\":true,\"state\":null,\"mainPid\":0,\"restarts\":0,\"ready\":null,"
        + "\"readiness\":null,\"crashLoop\":false,\"diagnosis\":null},\"lastError\":null,\"nextRefreshAt\":null,"
        + "\"report\":null}");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(Clock.systemUTC(), new PrintWriter(out, true), new PrintWriter(err, true), "--root",
        root.toString(), "status");
    assertEquals(StatusCommand.DEGRADED, code, out + "\n" + err);
    assertTrue(out.toString().contains("sidecar            unknown"), out.toString());
    assertEquals("", err.toString());
  }
}
