package io.istiovmagent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer against a real temporary root: what lands in node-exporter's directory, and what never does. */
class TextfileWriterTest {
  private static final Instant T0 = Instant.parse("2026-01-02T00:00:00Z");
  private static final AgentConfig.Metrics DEFAULT = AgentConfig.defaults().metrics();
  /** nobody: a user other than root, as prometheus is on a VM. */
  private static final int OTHER_UID = 65534;

  @TempDir
  Path root;
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private TextfileWriter writer;

  @BeforeEach
  void setUp() {
    writer = new TextfileWriter(new RootFs(root), new Log(new PrintStream(logs, true, StandardCharsets.UTF_8), true));
  }

  private Path debianDir() throws Exception {
    // As prometheus-node-exporter installs it: /var/lib/prometheus is prometheus's, node-exporter/ in it root's.
    Path parent = Files.createDirectories(root.resolve("var/lib/prometheus"));
    Path dir = Files.createDirectories(parent.resolve("node-exporter"));
    chown(parent, OTHER_UID);
    return dir;
  }

  @Test
  void writesTheFileAtomicallyReadableByTheCollectorIntoDebiansDirectory() throws Exception {
    Path dir = debianDir();
    writer.configure(DEFAULT);
    assertTrue(writer.step(T0, "a 1\n", false));
    Path file = dir.resolve(TextfileWriter.FILE_NAME);
    assertEquals("a 1\n", Files.readString(file));
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    assertEquals(0, Files.getAttribute(file, "unix:uid"));
    try (var names = Files.list(dir)) {
      assertEquals(1, names.count(), "no temporary file left behind");
    }
  }

  @Test
  void noDirectoryNoFileAndNoComplaint() throws Exception {
    writer.configure(DEFAULT);
    assertFalse(writer.step(T0, "a 1\n", false));
    assertFalse(Files.exists(root.resolve("var/lib/prometheus")), "the agent never creates the collector's place");
    assertEquals("", logs.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aConfiguredDirectoryThatIsMissingIsReportedOnceAndUsedOnceItExists() throws Exception {
    writer.configure(new AgentConfig.Metrics(true, Optional.of("/srv/textfiles"), Duration.ofSeconds(30)));
    assertFalse(writer.step(T0, "a 1\n", false));
    assertFalse(writer.step(T0.plusSeconds(30), "a 1\n", false));
    assertEquals(1, logs.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("/srv/textfiles")
        && l.contains("does not exist")).count(), logs::toString);
    Files.createDirectories(root.resolve("srv/textfiles"));
    assertTrue(writer.step(T0.plusSeconds(60), "a 1\n", false));
    assertEquals("a 1\n", Files.readString(root.resolve("srv/textfiles/" + TextfileWriter.FILE_NAME)));
  }

  @Test
  void turnedOffWritesNothing() throws Exception {
    Path dir = debianDir();
    writer.configure(new AgentConfig.Metrics(false, Optional.empty(), Duration.ofSeconds(30)));
    assertFalse(writer.step(T0, "a 1\n", false));
    assertFalse(Files.exists(dir.resolve(TextfileWriter.FILE_NAME)));
  }

  /** Turned off after it wrote (a reload, or a restart with the new configuration): its file goes, once. */
  @Test
  void turnedOffRemovesTheFileItWroteBefore() throws Exception {
    Path file = debianDir().resolve(TextfileWriter.FILE_NAME);
    writer.configure(DEFAULT);
    assertTrue(writer.step(T0, "a 1\n", false));
    AgentConfig.Metrics off = new AgentConfig.Metrics(false, Optional.empty(), Duration.ofSeconds(30));
    writer.configure(off);
    assertFalse(writer.step(T0.plusSeconds(60), "a 2\n", false));
    assertFalse(Files.exists(file, LinkOption.NOFOLLOW_LINKS));
    assertTrue(logs.toString(StandardCharsets.UTF_8).contains("metrics.textfile is false: removed "
        + "/var/lib/prometheus/node-exporter/" + TextfileWriter.FILE_NAME), logs::toString);

    Files.writeString(file, "someone else's\n"); // after the agent looked: not its to remove again
    assertFalse(writer.step(T0.plusSeconds(120), "a 2\n", false));
    assertTrue(Files.exists(file));
    TextfileWriter restarted = new TextfileWriter(new RootFs(root), new Log(new PrintStream(logs, true,
        StandardCharsets.UTF_8), true));
    restarted.configure(off);
    restarted.step(T0.plusSeconds(180), "a 2\n", false);
    assertFalse(Files.exists(file), "a restart turned off removes what an earlier run left");
  }

  /** In a directory another user can change the agent removes nothing by name: it says what is left. */
  @Test
  void turnedOffLeavesAFileInADirectoryAnotherUserCanChangeAndSaysSo() throws Exception {
    Path dir = debianDir();
    Files.writeString(dir.resolve(TextfileWriter.FILE_NAME), "a 1\n");
    chown(dir, OTHER_UID);
    writer.configure(new AgentConfig.Metrics(false, Optional.empty(), Duration.ofSeconds(30)));
    assertFalse(writer.step(T0, "a 1\n", false));
    assertTrue(Files.exists(dir.resolve(TextfileWriter.FILE_NAME)));
    assertTrue(logs.toString(StandardCharsets.UTF_8).contains("is left"), logs::toString);
  }

  @Test
  void writesWhenTheFiguresChangeAtMostEveryIntervalAndTheLastFiguresOnStopAtOnce() throws Exception {
    Path file = debianDir().resolve(TextfileWriter.FILE_NAME);
    writer.configure(DEFAULT);
    assertTrue(writer.step(T0, "a 1\n", false));
    assertFalse(writer.step(T0.plusSeconds(1), "a 2\n", false), "within the interval");
    assertEquals("a 1\n", Files.readString(file));
    assertFalse(writer.step(T0.plusSeconds(40), "a 1\n", false), "nothing changed");
    assertTrue(writer.step(T0.plusSeconds(41), "a 2\n", false));
    assertTrue(writer.step(T0.plusSeconds(42), "a 3\n", true), "the last figures go out whatever the interval");
    assertEquals("a 3\n", Files.readString(file));
  }

  @Test
  void aLinkPlantedAtTheFilesNameIsReplacedNotFollowed() throws Exception {
    Path dir = debianDir();
    Path victim = Files.writeString(Files.createDirectories(root.resolve("etc")).resolve("shadow-like"),
        "root:secret\n");
    Files.createSymbolicLink(dir.resolve(TextfileWriter.FILE_NAME), victim);
    writer.configure(DEFAULT);
    assertTrue(writer.step(T0, "a 1\n", false));
    assertEquals("root:secret\n", Files.readString(victim));
    assertFalse(Files.isSymbolicLink(dir.resolve(TextfileWriter.FILE_NAME)));
    assertEquals("a 1\n", Files.readString(dir.resolve(TextfileWriter.FILE_NAME)));
  }

  @Test
  void aDirectorySwappedForALinkByTheUserWhoOwnsItsParentIsRefused() throws Exception {
    Path parent = Files.createDirectories(root.resolve("var/lib/prometheus"));
    Path etc = Files.createDirectories(root.resolve("etc"));
    Path link = Files.createSymbolicLink(parent.resolve("node-exporter"), Path.of("/etc"));
    chown(parent, OTHER_UID);
    Files.setAttribute(link, "unix:uid", OTHER_UID, LinkOption.NOFOLLOW_LINKS);
    writer.configure(DEFAULT);
    assertFalse(writer.step(T0, "a 1\n", false));
    assertFalse(Files.exists(etc.resolve(TextfileWriter.FILE_NAME)), "written through prometheus's link");
    assertTrue(logs.toString(StandardCharsets.UTF_8).contains("cannot write metrics"), logs::toString);
  }

  @Test
  void aDirectoryAnotherUserCanWriteIsRefusedAndSaidOnce() throws Exception {
    Path dir = Files.createDirectories(root.resolve("var/lib/prometheus/node-exporter"));
    chown(dir, OTHER_UID);
    writer.configure(DEFAULT);
    assertFalse(writer.step(T0, "a 1\n", false));
    assertFalse(writer.step(T0.plusSeconds(60), "a 2\n", false));
    assertFalse(Files.exists(dir.resolve(TextfileWriter.FILE_NAME)));
    String log = logs.toString(StandardCharsets.UTF_8);
    assertEquals(1, log.lines().filter(l -> l.contains("not writing metrics into /var/lib/prometheus/node-exporter")
        && l.contains("chown root:root")).count(), log);
  }

  private static void chown(Path p, int uid) throws Exception {
    Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
  }
}
