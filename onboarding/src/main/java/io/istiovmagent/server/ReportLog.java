package io.istiovmagent.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Set;

/**
 * Every accepted report as one compact JSON line with {@code receivedAt}, appended to a file. The file is opened
 * for each line, so log rotation that renames it just works. A failing disk is logged, and the report is still
 * accepted: the in-memory state is what the endpoint serves.
 */
final class ReportLog {
  private final Path file;
  private final Log log;
  private boolean failing; // guarded by this: say so when writing starts failing and when it recovers, not per line

  ReportLog(Path file, Log log) {
    this.file = file;
    this.log = log;
  }

  synchronized void append(HealthReport report, Instant receivedAt) {
    ObjectNode line = Json.MAPPER.createObjectNode();
    line.put("receivedAt", receivedAt.toString());
    line.setAll((ObjectNode) Json.MAPPER.valueToTree(report));
    ByteBuffer bytes = ByteBuffer.wrap((Json.text(line) + "\n").getBytes(StandardCharsets.UTF_8));
    // O_APPEND: each line lands whole at the end even if another process appends too.
    try (FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r-----")))) {
      while (bytes.hasRemaining()) {
        ch.write(bytes);
      }
      if (failing) {
        failing = false;
        log.notice("writing reports to " + file + " works again");
      }
    } catch (IOException e) {
      if (!failing) {
        failing = true;
        log.error("cannot append reports to " + file + ": " + e.getMessage() + "; reports are kept in memory only "
            + "until it can be written");
      }
    }
  }
}
