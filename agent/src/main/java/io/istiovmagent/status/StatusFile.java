package io.istiovmagent.status;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/** status.json: written atomically by the daemon on every change, read by `istio-vm-agent status`. */
public final class StatusFile {
  public static final String FILE_NAME = "status.json";
  static final ObjectMapper JSON = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.INDENT_OUTPUT);

  private final Path file;

  public StatusFile(Path runDir) {
    this.file = runDir.resolve(FILE_NAME);
  }

  public Path file() {
    return file;
  }

  public Optional<AgentStatus> read() throws IOException {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    return Optional.of(JSON.readValue(file.toFile(), AgentStatus.class));
  }

  /** Replaces status.json atomically (0644: it holds no secret, and `status` may run unprivileged). */
  public void write(AgentStatus status) throws IOException {
    try (DirHandle dir = RootFs.HOST.openDirectory(file.getParent().toAbsolutePath().toString(), true)) {
      AtomicFile.write(dir, FILE_NAME, toJson(status).getBytes(StandardCharsets.UTF_8), FileOwner.ROOT,
          PosixFilePermissions.fromString("rw-r--r--"));
    }
  }

  public static String toJson(AgentStatus status) {
    try {
      return JSON.writeValueAsString(status);
    } catch (IOException e) {
      throw new IllegalStateException("status is plain data and always serialises", e);
    }
  }
}
