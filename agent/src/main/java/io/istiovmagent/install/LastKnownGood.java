package io.istiovmagent.install;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.Dirs;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

/**
 * The last bundle that passed verification, kept in the agent's state directory (0700, root) as one file written
 * atomically, so it is always whole. It is what the agent restores after a reboot, when the token in tmpfs is gone,
 * and what stays in force while the source is down.
 */
public final class LastKnownGood {
  public static final String FILE_NAME = "last-known-good.json";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int FORMAT = 1;

  /** What is stored besides the files. */
  public record Record(RawBundle bundle, String source, Instant savedAt) {
    public String revision() {
      return bundle.revision();
    }
  }

  /** The largest record read: a bundle's files, base64, are a few kilobytes. */
  private static final int MAX_BYTES = 16 * 1024 * 1024;

  /** How the record's bytes are read; empty when there is no record. A seam: tests count the reads. */
  interface Reader {
    Optional<byte[]> read(Path file) throws IOException;
  }

  private final Path dir;
  private final Reader reader;

  public LastKnownGood(Path stateDir) {
    this(stateDir, LastKnownGood::read);
  }

  LastKnownGood(Path stateDir, Reader reader) {
    this.dir = stateDir;
    this.reader = reader;
  }

  public Path file() {
    return dir.resolve(FILE_NAME);
  }

  /**
   * Saves the record, replacing whatever is stored: the plan has compared already ({@link InstallPlanner}). A stored
   * record that cannot be read (damaged, or of another format: an agent downgraded after a newer one wrote it) is
   * replaced too: it must never stand in the way of a verified bundle, or one bad file would fail every later
   * install.
   */
  void write(RawBundle bundle, String source, Instant now) throws IOException {
    Dirs.ensurePrivate(dir);
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("source", source);
    root.put("revision", bundle.revision());
    root.put("savedAt", now.toString());
    ObjectNode files = root.putObject("files");
    bundle.files().forEach((f, bytes) -> files.put(f.fileName(), Base64.getEncoder().encodeToString(bytes)));
    AtomicFile.write(file(), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root), FileOwner.ROOT,
        PosixFilePermissions.fromString("rw-------"));
  }

  /** The stored record; empty when there is none. A damaged file is an error, not silently ignored. */
  public Optional<Record> load() throws IOException {
    Path f = file();
    Optional<byte[]> bytes = reader.read(f);
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    JsonNode root = JSON.readTree(bytes.get());
    if (root == null || root.path("format").asInt() != FORMAT || !root.path("files").isObject()) {
      throw new IOException(f + " is not a last-known-good record of format " + FORMAT);
    }
    Map<BundleFile, byte[]> files = new EnumMap<>(BundleFile.class);
    for (Iterator<Map.Entry<String, JsonNode>> it = root.get("files").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      BundleFile bf = BundleFile.byName(e.getKey())
          .orElseThrow(() -> new IOException(f + " holds an unknown file " + e.getKey()));
      if (!e.getValue().isTextual()) {
        throw new IOException(f + " is damaged: " + e.getKey() + " is not base64 text");
      }
      files.put(bf, Base64.getDecoder().decode(e.getValue().asText()));
    }
    RawBundle bundle = new RawBundle(files);
    if (!bundle.revision().equals(text(root, "revision"))) {
      throw new IOException(f + " is damaged: its files do not match its recorded revision");
    }
    Instant savedAt;
    try {
      savedAt = Instant.parse(text(root, "savedAt"));
    } catch (DateTimeParseException e) {
      throw new IOException(f + " is damaged: savedAt is not a time");
    }
    return Optional.of(new Record(bundle, text(root, "source"), savedAt));
  }

  /**
   * The record's bytes, read relative to its directory (opened as {@link RootFs#openDirectory} opens it) without
   * following a link at the file; empty when there is no record.
   */
  static Optional<byte[]> read(Path f) throws IOException {
    DirHandle dir;
    try {
      dir = RootFs.HOST.openDirectory(f.toAbsolutePath().getParent().toString(), false);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try (dir) {
      String name = f.getFileName().toString();
      Optional<PosixFileAttributes> a = dir.attributes(name);
      if (a.isEmpty()) {
        return Optional.empty();
      }
      if (a.get().isSymbolicLink()) {
        // Never read (or later write) through a link here; the next save replaces the link itself.
        throw new IOException(f + " is a symbolic link, not a record the agent wrote; the link's target is left "
            + "untouched and the link is replaced by the next verified bundle");
      }
      byte[] b = dir.readRegular(name, MAX_BYTES)
          .orElseThrow(() -> new IOException(f + " is not a regular file, not a record the agent wrote"));
      if (b.length > MAX_BYTES) {
        throw new IOException(f + " is larger than any record the agent writes (" + MAX_BYTES + " bytes)");
      }
      return Optional.of(b);
    }
  }

  /** A field's text; "" when it is missing or JSON null, which are the same thing. */
  private static String text(JsonNode root, String field) {
    JsonNode n = root.path(field);
    return n.isMissingNode() || n.isNull() ? "" : n.asText();
  }
}
