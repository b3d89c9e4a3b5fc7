package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.cli.Main;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.Dirs;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Destination;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.testing.TreeSnapshot;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every file and directory the agent writes has the mode (and owner) its table says, whatever the process umask:
 * `apply` and `run` run as real processes under {@code umask 000} (where a missing chmod shows as 0666/0777) and
 * {@code umask 077} (where it shows as 0600/0700), and every path they created or changed under the root is compared
 * with {@link #table}, which is derived from {@link Destination} (files, modes, istio-sidecar's directories),
 * {@link Dirs#PUBLIC}, {@link LastKnownGood} and {@link StatusFile} and matches README.md and docs/configuration.md.
 * A path the table does not know fails the test too (a stray temporary file, a new file nobody gave a mode).
 * (This replaces CliTest's umask check, which covered part of `apply`'s table.)
 */
class FileModesTest {
  private static final Duration RUN_WAIT = Duration.ofSeconds(30);
  private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

  @TempDir
  Path tmp;

  /** What a path must be: a directory, a file or a link; its mode; its owner (uid). */
  record Expected(String type, String mode, int uid, String why) {}

  @ParameterizedTest(name = "umask {0}")
  @ValueSource(strings = {"000", "077"})
  void applyWritesEveryPathWithItsMode(String umask) throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    // /etc/hosts exists with a mode of its own: the agent rewrites it, 0644 like any /etc/hosts.
    Files.setPosixFilePermissions(root.resolve("etc/hosts"), PosixFilePermissions.fromString("rw-------"));
    Path bundle = bundleDir();
    Map<String, String> before = TreeSnapshot.of(root);

    Process p = agent(umask, "--root", root.toString(), "apply", bundle.toString());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "apply did not finish");
    assertEquals(0, p.exitValue(), log());

    check(root, before, umask, "apply");
  }

  @ParameterizedTest(name = "umask {0}")
  @ValueSource(strings = {"000", "077"})
  void runWritesEveryPathWithItsMode(String umask) throws Exception {
    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.delete(root.resolve("etc/hosts")); // the agent creates it
    Path config = Files.createDirectories(root.resolve("etc/istio-vm-agent")).resolve("config.yaml");
    Files.writeString(config, "bundle:\n  source: " + bundleDir() + "\nsidecar:\n  manage: false\n");
    Map<String, String> before = TreeSnapshot.of(root);

    Process p = agent(umask, "--root", root.toString(), "run");
    try {
      Path status = root.resolve(AgentConfig.DEFAULT_RUN_DIR.substring(1)).resolve(StatusFile.FILE_NAME);
      long deadline = System.nanoTime() + RUN_WAIT.toNanos();
      while (!(Files.exists(status) && Files.readString(status).contains("\"phase\" : \"RUNNING\""))) {
        assertTrue(p.isAlive(), "run exited: " + log());
        assertTrue(System.nanoTime() < deadline, "run never reached RUNNING: " + log());
        Thread.sleep(50);
      }
      p.destroy(); // SIGTERM: the agent writes its last status and exits
      assertTrue(p.waitFor(20, TimeUnit.SECONDS), "run did not stop: " + log());
      assertEquals(143, p.exitValue(), log());
    } finally {
      p.destroyForcibly();
    }

    check(root, before, umask, "run");
  }

  /**
   * The modes, from the code that sets them: every Destination file with its mode and istio-proxy as owner; the
   * directories istio-sidecar's files live in, 0755 istio-proxy; /etc/istio a link to /var/lib/istio; /etc/hosts
   * 0644 root; the state directory 0700 and the last-known-good 0600; the runtime directory 0755 and status.json
   * 0644 (it holds no secret; `status` may run unprivileged); every other directory the agent had to create, 0755
   * root. Keys are the paths as they are on disk (through the /etc/istio link).
   */
  /** Kept by `run` in the default state directory (docs/configuration.md). */
  static final String LAST_GOOD_CONFIG = AgentConfig.DEFAULT_STATE_DIR + "/last-good-config.yaml";

  static Map<String, Expected> table(RootFs fs) throws Exception {
    int proxy = TestBundles.PROXY_UID;
    Map<String, Expected> t = new LinkedHashMap<>();
    for (String dir : istioSidecarDirectories()) {
      t.put(fs.display(fs.resolve(dir)), new Expected("directory", "rwxr-xr-x", proxy, dir + " (istio-sidecar's)"));
    }
    for (Destination d : Destination.values()) {
      t.put(fs.display(fs.resolve(d.path())), new Expected("file", PosixFilePermissions.toString(d.mode()), proxy,
          d.path() + " (" + d.file().fileName() + ")"));
    }
    t.put("/etc/istio", new Expected("link", null, 0, "/etc/istio -> /var/lib/istio, as istio-sidecar makes it"));
    t.put(Destination.HOSTS, new Expected("file", "rw-r--r--", 0, "/etc/hosts"));
    String state = AgentConfig.DEFAULT_STATE_DIR;
    t.put(state, new Expected("directory", "rwx------", 0, "state directory"));
    t.put(state + "/" + LastKnownGood.FILE_NAME, new Expected("file", "rw-------", 0, "last-known-good"));
    t.put(LAST_GOOD_CONFIG, new Expected("file", "rw-------", 0, "the copy of the last config.yaml that loaded"));
    String run = AgentConfig.DEFAULT_RUN_DIR;
    t.put(run, new Expected("directory", PosixFilePermissions.toString(Dirs.PUBLIC), 0, "runtime directory"));
    t.put(run + "/" + StatusFile.FILE_NAME, new Expected("file", "rw-r--r--", 0, "status.json"));
    return t;
  }

  private static final Expected PARENT = new Expected("directory", PosixFilePermissions.toString(Dirs.PUBLIC), 0,
      "a parent directory the agent created");

  /** Destination.DIRECTORIES is the installer's own list; read it rather than copy it. */
  private static String[] istioSidecarDirectories() throws Exception {
    Field f = Destination.class.getDeclaredField("DIRECTORIES");
    f.setAccessible(true);
    return (String[]) f.get(null);
  }

  private void check(Path root, Map<String, String> before, String umask, String command) throws Exception {
    RootFs fs = new RootFs(root);
    Map<String, Expected> table = table(fs);
    Map<String, String> after = TreeSnapshot.of(root);
    List<String> wrong = new ArrayList<>();
    int checked = 0;
    for (String path : after.keySet()) {
      boolean untouched = after.get(path).equals(before.get(path));
      Expected e = table.get(path);
      if (untouched && e == null) {
        continue; // the test's own files (passwd, config), untouched
      }
      if (e == null) {
        e = Files.isDirectory(root.resolve(path.substring(1)), LinkOption.NOFOLLOW_LINKS) ? PARENT : null;
      }
      checked++;
      Path p = root.resolve(path.substring(1));
      if (e == null) {
        wrong.add(path + ": written by the agent but in no table (" + after.get(path) + ")");
        continue;
      }
      String type = Files.isSymbolicLink(p) ? "link" : Files.isDirectory(p) ? "directory" : "file";
      if (!type.equals(e.type())) {
        wrong.add(path + ": a " + type + ", expected a " + e.type() + " (" + e.why() + ")");
        continue;
      }
      if (type.equals("link")) {
        if (!Files.readSymbolicLink(p).toString().equals("/var/lib/istio")) {
          wrong.add(path + " -> " + Files.readSymbolicLink(p));
        }
        continue;
      }
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
      if (!PosixFilePermissions.toString(mode).equals(e.mode())) {
        wrong.add(path + ": mode " + PosixFilePermissions.toString(mode) + ", expected " + e.mode() + " (" + e.why()
            + ")");
      }
      int uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      if (ROOT && uid != e.uid()) {
        wrong.add(path + ": owner " + uid + ", expected " + e.uid() + " (" + e.why() + ")");
      }
    }
    for (String path : table.keySet()) {
      // status.json and the copy of the configuration are the daemon's
      boolean daemonOnly = path.startsWith(AgentConfig.DEFAULT_RUN_DIR) || path.equals(LAST_GOOD_CONFIG);
      if (!after.containsKey(path) && !(daemonOnly && command.equals("apply"))) {
        wrong.add(path + ": in the table but not written (" + table.get(path).why() + ")");
      }
    }
    assertEquals(List.of(), wrong, command + " under umask " + umask + "\n" + log());
    assertTrue(checked >= table.size() - (command.equals("apply") ? 3 : 0), "checked " + checked);
    ProofSummary.add("file modes", "paths checked", checked);
  }

  /** The sample bundle with sidecar.env too (Istio 1.11), so that every Destination is written. */
  private Path bundleDir() throws IOException {
    Map<BundleFile, byte[]> files = new EnumMap<>(SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now()));
    files.put(BundleFile.SIDECAR_ENV, "ISTIO_SVC_IP=10.0.0.3\n".getBytes(StandardCharsets.UTF_8));
    Path d = Files.createDirectories(tmp.resolve("bundle"));
    for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
      Files.write(d.resolve(e.getKey().fileName()), e.getValue());
    }
    return d;
  }

  /** The agent as a process of its own under {@code umask}: `sh -c 'umask U && exec java ... Main ARGS'`. */
  private Process agent(String umask, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("sh", "-c", "umask " + umask + " && exec \"$@\"", "sh",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("agent.log").toFile())
        .start();
  }

  private String log() {
    try {
      return Files.readString(tmp.resolve("agent.log"));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }
}
