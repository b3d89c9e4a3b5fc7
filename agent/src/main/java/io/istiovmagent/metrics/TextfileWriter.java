package io.istiovmagent.metrics;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * Writes istio-vm-agent.prom into node-exporter's textfile directory, when {@link WritePolicy} says so: atomically
 * (a temporary file in that directory, then a rename), 0644 (the collector runs as prometheus), never through a
 * symbolic link (the directory is opened as {@link RootFs#openDirectory} opens it; the file is created O_EXCL and
 * renamed inside it), and only into a directory no user but root can write: Debian's /var/lib/prometheus is
 * prometheus's, but node-exporter/ in it is root's 0755, and in a directory someone else can write the agent's
 * chmod by name could be redirected to another file. A missing default directory is no error (no
 * prometheus-node-exporter here); any other problem is logged once, and the daemon goes on. Turned off
 * ({@code metrics.textfile: false}), it removes the file it wrote before, once, so that node-exporter does not go on
 * exposing figures that no longer change.
 */
public final class TextfileWriter {
  public static final String FILE_NAME = "istio-vm-agent.prom";
  private static final Set<PosixFilePermission> MODE = PosixFilePermissions.fromString("rw-r--r--");

  private final RootFs fs;
  private final Log log;
  private AgentConfig.Metrics config;
  private Instant lastAttempt;
  private String written;
  private Instant writtenAt;
  /** The problem last logged, so that it is logged once and not every interval. */
  private String problem;
  /** Turned off: whether a file left from before was looked for since the configuration changed. */
  private boolean cleared;

  public TextfileWriter(RootFs fs, Log log) {
    this.fs = Objects.requireNonNull(fs, "fs == null");
    this.log = Objects.requireNonNull(log, "log == null");
  }

  /** Takes the metrics section; a new directory (or turning it on) writes at the next step. */
  public void configure(AgentConfig.Metrics next) {
    if (next.equals(config)) {
      return;
    }
    config = next;
    lastAttempt = null;
    written = null;
    writtenAt = null;
    problem = null;
    cleared = false;
  }

  /**
   * Writes {@code content} when due ({@code force}: whatever the interval, for the last figures on stop). Returns
   * whether it wrote the file.
   */
  public boolean step(Instant now, String content, boolean force) {
    if (config == null) {
      return false;
    }
    if (!config.textfile()) {
      if (!cleared) {
        cleared = true;
        removeLeftover();
      }
      return false;
    }
    if (!force && !WritePolicy.due(now, lastAttempt, written, writtenAt, content, config.interval())) {
      return false;
    }
    if (force && content.equals(written)) {
      return false;
    }
    lastAttempt = now;
    String dir = config.directory();
    try (DirHandle d = fs.openDirectory(dir, false)) {
      if (!d.trusted()) {
        problem("not writing metrics into " + dir + ": it is " + d.describeOwnership() + ", and the agent writes "
            + "only into a directory no user but root can change (chown root:root " + dir + "; chmod 0755 " + dir
            + "), or set metrics.textfileDir to one");
        return false;
      }
      AtomicFile.write(d, FILE_NAME, content.getBytes(StandardCharsets.UTF_8), FileOwner.ROOT, MODE);
    } catch (NoSuchFileException e) {
      if (config.textfileDir().isPresent()) {
        problem("not writing metrics: metrics.textfileDir " + dir + " does not exist (create it, or give "
            + "node-exporter's --collector.textfile.directory)");
      }
      return false;
    } catch (IOException e) {
      problem("cannot write metrics to " + dir + "/" + FILE_NAME + ": " + e.getMessage() + " (under systemd the "
          + "directory must be writable in the agent's sandbox: " + AgentConfig.DEFAULT_TEXTFILE_DIR + " is when it "
          + "existed at the agent's start; another needs ReadWritePaths=, see docs/metrics.md)");
      return false;
    }
    if (written == null || problem != null) {
      log.info("writing metrics for node-exporter's textfile collector to " + dir + "/" + FILE_NAME);
    }
    problem = null;
    written = content;
    writtenAt = now;
    return true;
  }

  /** Removes the file a run with the textfile on left in its directory, if the directory is one root alone holds. */
  private void removeLeftover() {
    String dir = config.directory();
    try (DirHandle d = fs.openDirectory(dir, false)) {
      if (d.attributes(FILE_NAME).isEmpty()) {
        return;
      }
      if (!d.trusted()) {
        problem("metrics.textfile is false, but " + dir + "/" + FILE_NAME + " is left: " + dir + " is "
            + d.describeOwnership() + ", and the agent changes only a directory no user but root can change (remove "
            + "the file)");
        return;
      }
      d.delete(FILE_NAME);
      log.info("metrics.textfile is false: removed " + dir + "/" + FILE_NAME + " (node-exporter no longer exposes "
          + "the agent's last figures)");
    } catch (NoSuchFileException e) {
      // no directory, or the file went meanwhile: nothing left
    } catch (IOException e) {
      problem("metrics.textfile is false, but " + dir + "/" + FILE_NAME + " cannot be removed: " + e.getMessage()
          + " (remove it, or node-exporter goes on exposing the agent's last figures)");
    }
  }

  private void problem(String message) {
    if (!message.equals(problem)) {
      log.warn(message);
      problem = message;
    }
  }
}
