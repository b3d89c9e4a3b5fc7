package io.istiovmagent.cli;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.fs.AtomicFile;
import io.istiovmagent.fs.DirHandle;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.HostsBlock;
import io.istiovmagent.install.Installer;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "purge", mixinStandardHelpOptions = true,
    description = {"Undo what the agent did to this machine (the package runs it when it is purged): remove the "
        + "managed block from /etc/hosts and put back every line the agent had commented out, then remove the "
        + "agent's state and runtime directories (paths.stateDir, paths.runDir). Prints what it did.",
        "",
        "istio-sidecar's files (/etc/certs, /var/lib/istio, the token), the istio-proxy user and the sidecar itself "
            + "are left alone. Stop the agent first: a running agent would put its block back."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:done, or nothing to do", "74:writing under the root failed",
        "75:the agent is running; stop it first (systemctl stop istio-vm-agent)"})
final class PurgeCommand implements Callable<Integer> {
  /** sysexits.h EX_TEMPFAIL: try again once the agent is stopped. */
  static final int AGENT_RUNNING = 75;

  @ParentCommand
  Main main;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    RootFs fs = main.rootFs();
    AgentConfig.Paths paths;
    try {
      paths = main.loadConfig().paths();
    } catch (ConfigException e) {
      // The purge must work whatever state the config is in: fall back to the package's own directories.
      paths = AgentConfig.defaults().paths();
      out.println("configuration unreadable (" + e.getMessage() + "): purging the default directories");
    }
    Optional<Long> running = runningAgent(fs.lexical(paths.runDir()));
    if (running.isPresent()) {
      err.println("istio-vm-agent is running (pid " + running.get() + ") and would put its /etc/hosts block back; "
          + "stop it first: systemctl stop istio-vm-agent");
      return AGENT_RUNNING;
    }
    try {
      out.println(purgeHosts(fs));
      out.println(removeTree(fs, paths.stateDir()));
      out.println(removeTree(fs, paths.runDir()));
    } catch (IOException e) {
      err.println("purge failed: " + e.getMessage());
      return ExitCodes.IO_ERROR;
    }
    return ExitCodes.OK;
  }

  /** Removes the managed block and restores disabled lines, keeping the file's own owner and mode. */
  static String purgeHosts(RootFs fs) throws IOException {
    DirHandle etc;
    try {
      etc = fs.openDirectory("/etc", false);
    } catch (NoSuchFileException e) {
      return "/etc/hosts: not there, nothing to do";
    }
    try (etc) {
      Optional<String> read = Installer.readHosts(etc);
      if (read.isEmpty()) {
        return "/etc/hosts: not there, nothing to do";
      }
      String current = read.get();
      String restored = HostsBlock.remove(current);
      if (restored.equals(current)) {
        return "/etc/hosts: no istio-vm-agent block, left as it is";
      }
      long reenabled = current.lines().filter(l -> l.startsWith(HostsBlock.DISABLED)).count();
      FileOwner owner = etc.ownerOf("hosts");
      Set<PosixFilePermission> mode = etc.attributes("hosts").orElseThrow().permissions();
      AtomicFile.Outcome outcome = AtomicFile.writeHosts(etc, "hosts",
          restored.getBytes(StandardCharsets.ISO_8859_1), owner, mode);
      return "/etc/hosts: removed the istio-vm-agent block"
          + (reenabled == 0 ? "" : ", restored " + reenabled + " line" + (reenabled == 1 ? "" : "s")
              + " it had commented out")
          + (outcome == AtomicFile.Outcome.REWRITTEN_IN_PLACE ? " (rewritten in place: it cannot be renamed over here)"
              : "");
    }
  }

  /** Deletes a directory tree without following links out of it: a link inside is removed, not its target. */
  static String removeTree(RootFs fs, String systemPath) throws IOException {
    Path dir = fs.lexical(systemPath);
    if (fs.root().relativize(dir).getNameCount() < 2 || dir.equals(fs.root())) {
      // paths.* are the agent's own directories; "/" or "/var" there is a mistake, not something to delete.
      return systemPath + ": left alone (too close to / to be the agent's own directory; remove it by hand)";
    }
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return systemPath + ": not there, nothing to do";
    }
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      Files.delete(dir);
      return systemPath + ": removed (it was not a directory)";
    }
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.delete(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.delete(d);
        return FileVisitResult.CONTINUE;
      }
    });
    return systemPath + ": removed";
  }

  /** The PID of a live agent that wrote this status, if any; as `status` decides it, plus a command-line check. */
  static Optional<Long> runningAgent(Path runDir) {
    Optional<AgentStatus> status;
    try {
      status = new StatusFile(runDir).read();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    if (status.isEmpty() || status.get().phase() == AgentStatus.Phase.STOPPING) {
      return Optional.empty();
    }
    long pid = status.get().pid();
    if (pid == ProcessHandle.current().pid()) {
      return Optional.empty();
    }
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        // A PID from a status file can have been reused: only an agent's own command line counts.
        .filter(h -> h.info().commandLine().map(c -> c.contains("istio-vm-agent")).orElse(true))
        .map(ProcessHandle::pid);
  }
}
