package io.istiovmagent.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.cli.Main;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.config.ConfigLoader;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.Destination;
import io.istiovmagent.install.HostsBlock;
import io.istiovmagent.install.LastKnownGood;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.status.StatusFile;
import io.istiovmagent.testing.ProofSummary;
import io.istiovmagent.testing.Slow;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash consistency under SIGKILL. {@code apply} and the {@code run} daemon, each a real JVM running {@link Main}
 * (the agent's classes and jars from this test's class path, the packaged launcher's JVM options, the unit's
 * {@code UMask=0077}), are killed with SIGKILL at random instants while they install one of two valid bundles, A and
 * B, which differ in every managed file (token, cluster.env, mesh, root certificate, hosts). The kill is
 * {@link Process#destroyForcibly()}, which on Linux is {@code kill(pid, SIGKILL)}; every kill is checked to have
 * ended the child with 128+9. Two lanes run at once, each a child at a time against its own root.
 *
 * <p>After every kill the root is checked. Each managed file (cluster.env, mesh, root-cert.pem, istio-token) is
 * byte-identical to A's or B's, with its owner and mode: never empty, cut short or mixed within a file, and once
 * there never gone. The last-known-good loads ({@link LastKnownGood#load}), verifies
 * ({@link BundleVerifier#verifyForRestore}) and holds exactly A or B. /etc/hosts, seeded with foreign lines,
 * comments, a blank line and two stale istiod lines that the agent comments out, is byte for byte the seed (before
 * the first block) or the seed edited for A or for B: every foreign line there, exactly one managed block.
 * status.json, when there, parses, and so does the daemon's copy of the last config.yaml that loaded. Nothing else is under the root but the agent's temporary files
 * ({@code .NAME.tmp-HEX} next to a file it writes), which are counted: the next run ignores them (random names,
 * {@code CREATE_NEW}), as this test shows by going on: every run that ends by itself must succeed and leave one
 * whole version, every daemon must get there, and at the end a last {@code apply} and a {@code purge} must give back
 * the seeded /etc/hosts. For a kill during a single install, nothing may be at the new version before the
 * last-known-good is (the Installer writes it first). Versions may be mixed <em>across</em> files after a kill
 * mid-install: the last-known-good and the next run are there for that. A file that is neither A nor B is torn.
 *
 * <p>How kills are timed. A JVM start costs about 0.4 s of a 0.6 s {@code apply} and the writes about 10-30 ms, so
 * kills at uniform instants would nearly all land in start-up. Each run picks a strategy at random:
 * <ul>
 *   <li><b>uniform</b>: an instant in the measured life of a run (start-up, restore, fetch, verification, install);
 *   <li><b>triggered</b>: the parent watches the managed directories (inotify through WatchService) and kills at a
 *       random delay after the first change, within the measured write window;
 *   <li><b>flips + SIGHUP</b> ({@code run} only): once the daemon has fetched, the parent swaps the source's tar.gz
 *       atomically between A and B and sends SIGHUP, 2 to 4 times, letting all but the last install through; the
 *       kill comes at a random delay after the last SIGHUP, or after that install's first write;
 *   <li><b>settled</b>: {@code apply} left to finish, or the daemon killed once it has fetched and laid out a bundle.
 * </ul>
 * About a third of the runs are the daemon, so restore, fetch and install all get killed; 2 % start from a fresh
 * root, so that first installs do too. A kill counts as <em>mid-install</em> when it left the tree mixed across files
 * and changed since the run began, or left a new temporary file (it landed between a temporary file's creation and
 * its rename). Measured on the bounded run (300 kills on 2 cores shared with other work: 135-140 s under a light
 * load, 280 s under a heavy one; 0.65-0.75 CPU seconds per kill, nearly all of it the children's JVM start, so about
 * 110 s on 2 idle cores): 35-50 % of all kills landed mid-install (50-70 % of the triggered {@code apply} kills,
 * 25-50 % of the daemon's), 12-30 % inside one file's write. The summary prints each run's figures, per strategy.
 *
 * <p>Mutation checks, made when this test was written (150 kills each; a torn root is replaced by a fresh one, so
 * each torn kill is counted once): AtomicFile rewriting the target in place (no temporary file, no rename): 15 torn
 * (empty files, and an emptied /etc/hosts whose foreign lines the next run then lost for good); /etc/hosts written in
 * two steps (foreign lines, then the block): 7 torn (the block gone); the mode set after the rename instead of
 * before: 7 torn (a 0600 cluster.env or root certificate); the last-known-good saved after the files instead of
 * before: reported by the ordering check. Not caught, and not catchable by SIGKILL: AtomicFile without its fsyncs
 * (the page cache outlives a killed process; only a power cut would tell), and the last-known-good rewritten in place
 * with a single write() (its truncation and its write are microseconds apart, at the very start of the install,
 * before any trigger): 0 torn in 200 kills.
 *
 * <p>System properties (given to Maven: {@code mvn test -Dtest=CrashConsistencyTest -Dcrash.long=true}):
 * <ul>
 *   <li>{@code crash.kills}: how many kills (default 300, the bounded run);
 *   <li>{@code crash.long}: {@code true} for the long form, 3000 kills (about 20 minutes on 2 idle cores);
 *   <li>{@code crash.seed}: the seed of every random choice, printed at the start: set it to replay a failure's
 *       choices of mode, version, strategy and delay (the instants still depend on the machine's timing);
 *   <li>{@code crash.lanes}: children at once, each against its own root (default 2);
 *   <li>{@code crash.verbose}: {@code true} prints every kill: strategy, and the version of each of last-known-good,
 *       cluster.env, mesh, root-cert.pem, istio-token and hosts before and after ({@code -}: not there yet).
 * </ul>
 */
@Slow
class CrashConsistencyTest {
  private static final String ROW = "crash consistency (SIGKILL)";
  private static final boolean VERBOSE = Boolean.getBoolean("crash.verbose");
  /** Stop early once this many kills were torn, or children got stuck: a broken build fails sooner. */
  private static final int MAX_TORN = 20;
  private static final int MAX_STUCK = 3;
  private static final long DAEMON_TIMEOUT_MS = 120_000;
  private static final Pattern TEMP = Pattern.compile("\\.(.+)\\.tmp-[0-9a-f]{12}");
  private static final String STATE_DIR = "/var/lib/istio-vm-agent";
  private static final String RUN_DIR = "/run/istio-vm-agent";
  /** The daemon's copy of the last config.yaml that loaded, in the default state directory. */
  private static final String KEPT_CONFIG = "last-good-config.yaml";
  private static final Destination[] FILES = {Destination.CLUSTER_ENV, Destination.MESH, Destination.ROOT_CERT,
      Destination.TOKEN};
  private static final String[] ITEMS = {"last-known-good", "cluster.env", "mesh", "root-cert.pem", "istio-token",
      "hosts"};

  /** The seeded /etc/hosts: foreign lines, comments, a blank line, and two stale istiod lines to be commented out. */
  static final String SEED_HOSTS = "127.0.0.1\tlocalhost\n"
      + "127.0.1.1\tvm-1.example.internal vm-1\n"
      + "# added by the operator, must survive every crash\n"
      + "10.20.30.40 db.internal db   # trailing comment\n"
      + "\n"
      + "# from the manual guide (cat hosts >> /etc/hosts):\n"
      + "192.0.2.99 istiod.istio-system.svc old-istiod.example\n"
      + "192.0.2.98 istiod-canary.istio-system.svc\n"
      + "::1     localhost ip6-localhost ip6-loopback\n"
      + "ff02::1 ip6-allnodes\n";

  @TempDir
  Path tmp;

  @Test
  @EnabledOnOs(OS.LINUX)
  void sigkillNeverLeavesATornFile() throws Exception {
    long seed = Long.getLong("crash.seed", new SecureRandom().nextLong());
    int target = Integer.getInteger("crash.kills", Boolean.getBoolean("crash.long") ? 3000 : 300);
    int lanes = Integer.getInteger("crash.lanes", 2);
    System.out.println("crash consistency: seed " + seed + " (replay with -Dcrash.seed=" + seed + "), " + target
        + " kills, " + lanes + " lanes");

    Instant now = Instant.now();
    Version a = Version.make("A", new SampleBundle.Spec("vm-namespace", "vm-sa", "hello-vm", "cluster.local",
        "192.0.2.10", Duration.ofHours(12), Duration.ofDays(3650)), "", now);
    Version b = Version.make("B", new SampleBundle.Spec("vm-namespace-b", "vm-sa-b", "hello-vm-b", "cluster.local",
        "192.0.2.20", Duration.ofHours(10), Duration.ofDays(365)), "192.0.2.21 istiod-canary.istio-system.svc\n", now);

    List<String> jvm = childJvm(tmp.resolve("jvm"), a);
    Stats stats = new Stats(target);
    long started = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(lanes);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < lanes; i++) {
      Lane lane = new Lane(i, tmp.resolve("lane" + i), a, b, new Random(seed + 7919L * i), stats, jvm);
      done.add(pool.submit(() -> {
        lane.runUntilDone();
        return null;
      }));
    }
    pool.shutdown();
    for (Future<?> f : done) {
      f.get(); // every wait inside a lane has its own deadline
    }
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);

    int kills = stats.kills.get();
    int torn = stats.torn.get();
    System.out.println(kills + " kills, " + torn + " torn");
    int stuck = stats.stuck.get();
    System.out.println(stats.summary(seconds));
    stats.problems().forEach(p -> System.out.println("PROBLEM " + p));
    ProofSummary.add(ROW, "kills", kills);
    ProofSummary.add(ROW, "torn", torn);
    assertEquals(0, torn, "torn after SIGKILL (seed " + seed + "):\n" + String.join("\n", stats.problems()));
    assertEquals(0, stuck, "children that never got there after crashes (seed " + seed + "):\n"
        + String.join("\n", stats.problems()));
    assertTrue(stats.problems().isEmpty(), "problems (seed " + seed + "):\n" + String.join("\n", stats.problems()));
    assertTrue(kills >= target, "only " + kills + " of " + target + " kills");
  }

  /** One of the two bundles, and what a whole install of it looks like. */
  record Version(String name, RawBundle raw, Map<BundleFile, byte[]> installed, List<HostsEntry> hosts,
      String hostsText, byte[] tarGz) {
    static Version make(String name, SampleBundle.Spec spec, String extraHosts, Instant now) throws Exception {
      Map<BundleFile, byte[]> files = new EnumMap<>(SampleBundle.generate(spec, now));
      files.put(BundleFile.HOSTS, (new String(files.get(BundleFile.HOSTS), StandardCharsets.UTF_8) + extraHosts)
          .getBytes(StandardCharsets.UTF_8));
      RawBundle raw = new RawBundle(files);
      VerifiedBundle v = new BundleVerifier(Clock.systemUTC(), Set.of()).verify(raw);
      String hostsText = HostsBlock.apply(SEED_HOSTS, v.hosts()).text();
      return new Version(name, raw, v.installContent(), v.hosts(), hostsText, TarGzWriter.write(files));
    }

    boolean holds(RawBundle other) {
      return sameFiles(raw.files(), other.files());
    }
  }

  static boolean sameFiles(Map<BundleFile, byte[]> x, Map<BundleFile, byte[]> y) {
    return x.keySet().equals(y.keySet()) && x.keySet().stream().allMatch(k -> Arrays.equals(x.get(k), y.get(k)));
  }

  /** Figures over every lane. */
  static final class Stats {
    final int target;
    final AtomicInteger kills = new AtomicInteger();
    final AtomicInteger torn = new AtomicInteger();
    final AtomicInteger stuck = new AtomicInteger();
    private final Map<String, Integer> counts = new TreeMap<>();
    private final Map<String, int[]> byStrategy = new TreeMap<>();
    private final List<String> problems = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final Set<String> leftoverTemps = new TreeSet<>();

    Stats(int target) {
      this.target = target;
    }

    boolean enough() {
      return kills.get() >= target || torn.get() >= MAX_TORN || stuck.get() >= MAX_STUCK;
    }

    synchronized void note(String note) {
      notes.add(note);
    }

    synchronized void count(String key) {
      counts.merge(key, 1, Integer::sum);
    }

    /** A kill that ended a child: under which strategy, whether mid-install, whether inside one file's write. */
    synchronized void killed(String strategy, boolean midInstall, boolean insideAWrite) {
      kills.incrementAndGet();
      int[] f = byStrategy.computeIfAbsent(strategy, k -> new int[3]);
      f[0]++;
      f[1] += midInstall ? 1 : 0;
      f[2] += insideAWrite ? 1 : 0;
    }

    void problem(String p) {
      problem(p, 1200);
    }

    synchronized void problem(String p, int maxLength) {
      if (problems.size() < 30) {
        problems.add(p.length() > maxLength ? p.substring(0, maxLength) + "..." : p);
      }
    }

    synchronized List<String> problems() {
      return List.copyOf(problems);
    }

    synchronized void temps(int lane, Set<String> temps) {
      temps.forEach(t -> leftoverTemps.add("lane" + lane + ":" + t));
    }

    synchronized String summary(long seconds) {
      int[] total = new int[3];
      StringBuilder rows = new StringBuilder();
      byStrategy.forEach((strategy, f) -> {
        for (int i = 0; i < 3; i++) {
          total[i] += f[i];
        }
        rows.append(String.format("  %-22s %4d kills, %4d mid-install (%2d %%), %4d inside a file's write (%2d %%)%n",
            strategy, f[0], f[1], 100 * f[1] / Math.max(1, f[0]), f[2], 100 * f[2] / Math.max(1, f[0])));
      });
      StringBuilder sb = new StringBuilder(String.format("crash consistency: %d s; %d kills, %d mid-install (%d %%), "
          + "%d inside one file's write (%d %%), %d torn%n", seconds, total[0], total[1],
          100 * total[1] / Math.max(1, total[0]), total[2], 100 * total[2] / Math.max(1, total[0]), torn.get()));
      sb.append(rows);
      counts.forEach((key, n) -> sb.append(String.format("  %s: %d%n", key, n)));
      notes.forEach(n -> sb.append("  ").append(n).append('\n'));
      Map<String, Integer> byName = new TreeMap<>();
      leftoverTemps.forEach(t -> {
        Matcher m = TEMP.matcher(Path.of(t.substring(t.indexOf(':') + 1)).getFileName().toString());
        byName.merge(m.matches() ? m.group(1) : t, 1, Integer::sum);
      });
      sb.append("  temporary files left by kills (ignored by the next run): ").append(byName);
      return sb.toString();
    }
  }

  /** What one look at a root found. */
  record Observation(Map<String, String> labels, List<String> problems, Set<String> temps) {
    boolean uniform(String version) {
      return labels.values().stream().allMatch(version::equals);
    }

    boolean mixed() {
      return new HashSet<>(labels.values()).size() > 1;
    }

    String label(String item) {
      return labels.get(item);
    }
  }

  /** One child at a time against one root. */
  static final class Lane {
    final int id;
    final Path dir;
    final Version a;
    final Version b;
    final Random random;
    final Stats stats;
    final Path source;
    final Path log;
    final List<String> jvm;
    Process child;
    Path root;
    RootFs fs;
    int generation;
    /** Items seen whole at least once in this root: from then on they must never be missing. */
    final Set<String> seen = new HashSet<>();
    Observation last;
    /** Measured, in ms: a whole `apply`, its write window, and a daemon's time to its first applied bundle. */
    double applyLife = 600;
    double writeWindow = 30;
    double daemonLife = 900;
    /** Measured, in ms: from SIGHUP to the daemon's first write. */
    double flipLatency = 30;

    Lane(int id, Path dir, Version a, Version b, Random random, Stats stats, List<String> jvm) throws IOException {
      this.id = id;
      this.jvm = jvm;
      this.dir = Files.createDirectories(dir);
      this.a = a;
      this.b = b;
      this.random = random;
      this.stats = stats;
      this.source = dir.resolve("source/bundle.tar.gz");
      this.log = dir.resolve("child.log");
      Files.createDirectories(source.getParent());
    }

    void freshRoot() throws IOException {
      root = Files.createDirectories(dir.resolve("root" + generation++));
      TestBundles.newRoot(root, true);
      Files.writeString(root.resolve("etc/hosts"), SEED_HOSTS);
      Files.createDirectories(root.resolve("etc/istio-vm-agent"));
      Files.writeString(root.resolve("etc/istio-vm-agent/config.yaml"),
          "bundle:\n  source: " + source + "\nsidecar:\n  manage: false\n");
      fs = new RootFs(root);
      seen.clear();
      last = observe();
    }

    void runUntilDone() throws Exception {
      try {
        runLane();
      } finally {
        if (child != null && child.isAlive()) { // a lane that failed unexpectedly leaves no child behind
          child.destroyForcibly();
          child.waitFor(30, TimeUnit.SECONDS);
        }
      }
    }

    void runLane() throws Exception {
      freshRoot();
      // A first, whole `apply` and daemon start measure this machine's timings.
      guarded(() -> settledApply(a));
      guarded(() -> settledDaemon(b));
      while (!stats.enough()) {
        if (!last.problems().isEmpty()) {
          freshRoot(); // a torn root is counted once, and its damage not carried into the next kills
        } else if (random.nextInt(50) == 0) {
          freshRoot();
          stats.count("fresh root (first install killed)");
        }
        Version v = targetVersion();
        if (random.nextInt(100) < 35) {
          guarded(() -> daemonRun(v));
        } else {
          guarded(() -> applyRun(v));
        }
      }
      guarded(this::finish);
      stats.note(String.format("lane %d measured: apply %.0f ms, its writes %.1f ms, daemon to its first bundle %.0f"
          + " ms, SIGHUP to its first write %.1f ms; kill windows (ms) %s", id, applyLife, writeWindow, daemonLife,
          flipLatency, windows.entrySet().stream().map(e -> e.getKey() + " " + Math.round(e.getValue())).toList()));
    }

    interface Run {
      void run() throws Exception;
    }

    /** A child that never got where it had to (a daemon never ready, say) is a failure of its own, not a hang. */
    void guarded(Run run) throws Exception {
      try {
        run.run();
      } catch (Stuck e) {
        stats.stuck.incrementAndGet();
        String threads = child != null && child.isAlive() ? threadDump(child) : "";
        Observation o = observe();
        stats.problem("lane " + id + " root" + (generation - 1) + ": stuck: " + e.getMessage() + "; the tree: "
            + o.labels() + " " + o.problems() + "; the child's output:\n" + tail() + threads, 8000);
        if (child != null) {
          child.destroyForcibly();
          child.waitFor(30, TimeUnit.SECONDS);
        }
        check("after a stuck child", a);
      }
    }

    /**
     * How long after its trigger a strategy kills: uniform below a bound that adapts to this machine's speed, shrunk
     * a little after a kill that came too late (the install had finished) and grown a very little after one that did
     * not, so that about one kill in four lands after the install and the rest spread over it (not below a third of
     * the measured write window: under load the trigger itself comes late).
     */
    final Map<String, Double> windows = new HashMap<>();

    double window(String key, double initial) {
      return windows.computeIfAbsent(key, k -> initial);
    }

    void adapt(String key, boolean late) {
      windows.computeIfPresent(key, (k, w) -> Math.max(writeWindow / 3, Math.min(5000, w * (late ? 0.95 : 1.02))));
    }

    /** The other version than the last-known-good's, so that every run has all to write; random when mixed. */
    Version targetVersion() {
      String lkg = last.label("last-known-good");
      if ("A".equals(lkg) && !last.mixed()) {
        return b;
      }
      if ("B".equals(lkg) && !last.mixed()) {
        return a;
      }
      return random.nextBoolean() ? a : b;
    }

    Version other(Version v) {
      return v == a ? b : a;
    }

    void serve(Version v) throws IOException {
      Path next = source.resolveSibling(".next");
      Files.write(next, v.tarGz());
      Files.move(next, source, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The agent, as the unit runs it: UMask=0077, the launcher's JVM options. */
    Process start(String command) throws IOException {
      List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "umask 077 && exec \"$@\"", "sh"));
      cmd.addAll(jvm);
      cmd.addAll(List.of("--root", root.toString(), command));
      child = startChild(cmd, log);
      return child;
    }

    // --- apply ---

    /** An `apply` left to finish: it must succeed and leave one whole version; it also measures this machine. */
    void settledApply(Version v) throws Exception {
      serve(v);
      long t0 = System.nanoTime();
      long end;
      Process p;
      long firstWrite;
      long lastWrite;
      try (Trigger trigger = new Trigger()) {
        p = start("apply");
        awaitCondition(() -> trigger.poll() & !p.isAlive(), 120_000, "apply to exit", 0);
        end = System.nanoTime();
        firstWrite = trigger.first;
        lastWrite = trigger.last;
      }
      int code = p.waitFor();
      Observation o = check("settled apply of " + v.name(), v);
      if (code != 0) {
        problem("apply of " + v.name() + " exited " + code + " (a run after crashes must succeed): " + tail());
      } else if (!o.uniform(v.name())) {
        problem("apply of " + v.name() + " exited 0 but left " + o.labels());
      }
      applyLife = ewma(applyLife, (end - t0) / 1e6);
      if (firstWrite > 0) {
        writeWindow = ewma(writeWindow, (lastWrite - firstWrite) / 1e6);
      }
      stats.count("runs left to finish (must succeed)");
    }

    void applyRun(Version v) throws Exception {
      int pick = random.nextInt(100);
      if (pick < 4) {
        settledApply(v);
        return;
      }
      serve(v);
      Observation before = last;
      String strategy;
      Process p;
      if (pick < 19) {
        strategy = "apply, uniform";
        p = start("apply");
        p.waitFor((long) (random.nextDouble() * applyLife * 0.9), TimeUnit.MILLISECONDS);
      } else {
        strategy = "apply, triggered";
        try (Trigger trigger = new Trigger()) {
          p = start("apply");
          awaitCondition(() -> !p.isAlive() | trigger.poll(), 120_000, "apply to write or exit", 0);
        }
        parkRandom(random, window(strategy, writeWindow));
      }
      boolean late = killed(p, strategy, before, v);
      if (strategy.endsWith("triggered")) {
        adapt(strategy, late);
      }
    }

    // --- run ---

    /** A daemon left to apply its bundle, then killed: it must have laid out one whole version. */
    void settledDaemon(Version v) throws Exception {
      serve(v);
      Observation before = last;
      long t0 = System.nanoTime();
      Process p = start("run");
      awaitDaemon(p, () -> fetched(p) && treeIs(v), "the daemon to fetch and lay out " + v.name());
      daemonLife = ewma(daemonLife, (System.nanoTime() - t0) / 1e6);
      killed(p, "run, settled", before, v);
      if (!last.uniform(v.name())) {
        problem("the daemon applied " + v.name() + " but left " + last.labels());
      }
    }

    void daemonRun(Version v) throws Exception {
      int pick = random.nextInt(100);
      if (pick < 4) {
        settledDaemon(v);
        return;
      }
      serve(v);
      Observation before = last;
      Process p;
      String strategy;
      String window = null;
      Version expected = v;
      if (pick < 19) {
        strategy = "run, uniform";
        p = start("run");
        p.waitFor((long) (random.nextDouble() * daemonLife), TimeUnit.MILLISECONDS);
      } else if (pick < 49) {
        strategy = "run, triggered";
        window = strategy;
        try (Trigger trigger = new Trigger()) {
          p = start("run");
          awaitCondition(() -> !p.isAlive() | trigger.poll(), 120_000, "the daemon to write", 0);
        }
        parkRandom(random, window(strategy, writeWindow * 2));
      } else {
        strategy = "run, flips + SIGHUP";
        p = start("run");
        // Done with its first fetch (so its SIGHUP handler is in place, and a flip is not taken by that fetch).
        Version first = v;
        Process daemon = p;
        awaitDaemon(p, () -> fetched(daemon) && treeIs(first), "the daemon to fetch and lay out " + v.name());
        int flips = 2 + random.nextInt(3);
        for (int i = 0; i < flips; i++) {
          expected = other(expected);
          serve(expected);
          if (i == flips - 1) {
            if (random.nextBoolean()) {
              // The kill: anywhere in the reload, fetch, verification and install the SIGHUP sets off...
              window = "flips, after SIGHUP";
              hangUp(p);
              parkRandom(random, window(window, (flipLatency + writeWindow) * 1.1));
            } else {
              // ... or once that install has started writing.
              window = "flips, after the first write";
              try (Trigger trigger = new Trigger()) {
                hangUp(p);
                awaitCondition(() -> !daemon.isAlive() | trigger.poll(), DAEMON_TIMEOUT_MS,
                    "the daemon to write after SIGHUP", 0);
              }
              parkRandom(random, window(window, writeWindow));
            }
            break;
          }
          // The flips before the last one are let through, and measure how soon the daemon starts writing.
          try (Trigger trigger = new Trigger()) {
            long sent = System.nanoTime();
            hangUp(p);
            Version e = expected;
            awaitDaemon(p, () -> trigger.poll() & treeIs(e), "the daemon to install " + e.name() + " after SIGHUP");
            if (trigger.first > 0) {
              flipLatency = ewma(flipLatency, (trigger.first - sent) / 1e6);
            }
          }
        }
      }
      boolean late = killed(p, strategy, before, expected);
      if (window != null) {
        adapt(window, late);
      }
    }

    // --- the kill and the check ---

    /** Kills and checks; true when the kill came too late to land in the install (it had finished, or exited). */
    boolean killed(Process p, String strategy, Observation before, Version v) throws Exception {
      boolean wasKilled = kill(p);
      if (!wasKilled) {
        // It finished before the kill: a run after crashes must succeed and leave one whole version.
        int code = p.exitValue();
        Observation o = check(strategy + " (finished before the kill)", v);
        if (code != 0) {
          problem(strategy + ": exited " + code + " before the kill: " + tail());
        } else if (!o.uniform(v.name())) {
          problem(strategy + ": exited 0 but left " + o.labels());
        }
        stats.count("runs that ended before the kill (must succeed): " + strategy);
        return true;
      }
      Observation o = check(strategy, v);
      if (!strategy.contains("flips") && !v.name().equals(o.label("last-known-good"))) {
        // One install of v (after, for the daemon, a restore of the last-known-good's own version): nothing may be
        // at v before the last-known-good is, or a crash could leave the state directory older than the system.
        for (String item : ITEMS) {
          if (v.name().equals(o.label(item)) && !v.name().equals(before.label(item))) {
            problem(strategy + ": " + item + " was installed at " + v.name() + " before the last-known-good ("
                + before.labels().values() + " -> " + o.labels().values() + ")");
          }
        }
      }
      Set<String> newTemps = new HashSet<>(o.temps());
      newTemps.removeAll(before.temps());
      boolean mid = o.mixed() && !o.labels().equals(before.labels()) || !newTemps.isEmpty();
      stats.killed(strategy, mid, !newTemps.isEmpty());
      if (VERBOSE) {
        System.out.printf("lane %d %-20s %s -> %s%s%n", id, strategy, before.labels().values(), o.labels().values(),
            newTemps.isEmpty() ? "" : " temp " + newTemps);
      }
      stats.temps(id, newTemps);
      return newTemps.isEmpty() && o.uniform(v.name());
    }

    /** SIGKILL; true when it was the kill that ended the process (128+9), false when it had already exited. */
    boolean kill(Process p) throws Exception {
      boolean alive = p.isAlive();
      p.destroyForcibly();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new AssertionError("a SIGKILLed child did not die within 30 s");
      }
      int code = p.exitValue();
      if (code == 137) {
        return true;
      }
      if (alive && code != 0) {
        problem("child exited " + code + " around the kill (expected 137 for SIGKILL): " + tail());
      }
      return false;
    }

    void hangUp(Process p) throws Exception {
      Process k = new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).redirectErrorStream(true).start();
      if (!k.waitFor(10, TimeUnit.SECONDS)) {
        k.destroyForcibly();
        throw new AssertionError("kill -HUP did not return within 10 s");
      }
    }

    /**
     * Waits for a daemon to get somewhere: fails at once if it exits or logs a failed fetch or install (it would only
     * retry), else after {@link #DAEMON_TIMEOUT_MS}, which is generous: on a loaded machine a JVM can take seconds.
     */
    void awaitDaemon(Process p, BooleanSupplier done, String what) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DAEMON_TIMEOUT_MS);
      for (int i = 0; !done.getAsBoolean(); i++) {
        if (!p.isAlive()) {
          throw new Stuck("the daemon exited " + p.exitValue() + " while waiting for " + what);
        }
        if (i % 8 == 0 && logContains("retrying in")) {
          throw new Stuck("the daemon failed (and would retry) while waiting for " + what);
        }
        if (System.nanoTime() - deadline >= 0) {
          throw new Stuck("timed out after " + DAEMON_TIMEOUT_MS + " ms waiting for " + what);
        }
        LockSupport.parkNanos(2_000_000);
      }
    }

    /** Whether this daemon has fetched from its source at least once (restoring is not fetching). */
    boolean fetched(Process p) {
      try {
        Optional<AgentStatus> status = new StatusFile(fs.lexical(RUN_DIR)).read();
        return status.isPresent() && status.get().pid() == p.pid() && status.get().bundle() != null
            && status.get().bundle().lastCheckedAt() != null;
      } catch (IOException | RuntimeException e) {
        return false;
      }
    }

    /** The whole tree at v: the files and /etc/hosts (cheap, first), then the last-known-good. */
    boolean treeIs(Version v) {
      try {
        if (!hostsAre(v)) {
          return false;
        }
        for (Destination d : FILES) {
          if (!Arrays.equals(Files.readAllBytes(fs.resolve(d.path())), v.installed().get(d.file()))) {
            return false;
          }
        }
        Optional<LastKnownGood.Record> lkg = new LastKnownGood(fs.lexical(STATE_DIR)).load();
        return lkg.isPresent() && v.holds(lkg.get().bundle());
      } catch (IOException | RuntimeException e) {
        return false;
      }
    }

    boolean hostsAre(Version v) throws IOException {
      return Files.readString(fs.resolve(Destination.HOSTS), StandardCharsets.ISO_8859_1).equals(v.hostsText());
    }

    boolean logContains(String text) {
      try {
        return Files.readString(log, StandardCharsets.ISO_8859_1).contains(text);
      } catch (IOException e) {
        return false;
      }
    }

    /** What a child that seems stuck is doing (jstack from this JDK; nothing if it cannot). */
    static String threadDump(Process p) {
      try {
        Path jstack = Path.of(System.getProperty("java.home"), "bin", "jstack");
        Process j = new ProcessBuilder(jstack.toString(), Long.toString(p.pid())).redirectErrorStream(true).start();
        byte[] out = j.getInputStream().readAllBytes();
        j.waitFor(30, TimeUnit.SECONDS);
        String dump = new String(out, StandardCharsets.UTF_8);
        int main = dump.indexOf("\"main\"");
        return "\nthe child's main thread:\n"
            + (main < 0 ? dump : dump.substring(main, Math.min(dump.length(), main + 2500)));
      } catch (IOException | InterruptedException e) {
        return "";
      }
    }

    String tail() {
      try {
        String s = Files.readString(log, StandardCharsets.ISO_8859_1);
        return s.substring(Math.max(0, s.length() - 3000));
      } catch (IOException e) {
        return "(no log: " + e.getMessage() + ")";
      }
    }

    void problem(String p) {
      stats.problem("lane " + id + " root" + (generation - 1) + ": " + p);
    }

    /**
     * Watches the directories of the managed files, the last-known-good and /etc/hosts (inotify, through the JDK's
     * WatchService: no busy polling) and notes when something in them first and last changed. Until the first
     * install has made those directories, it compares the files' inode, size and mtime every 0.3 ms instead.
     */
    final class Trigger implements AutoCloseable {
      private final WatchService watcher;
      private Map<Path, Object> previous;
      long first;
      long last;

      Trigger() throws IOException {
        List<Path> dirs = watched().stream().map(Path::getParent).distinct().toList();
        if (dirs.stream().allMatch(Files::isDirectory)) {
          watcher = FileSystems.getDefault().newWatchService();
          for (Path d : dirs) {
            d.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
          }
        } else {
          watcher = null;
          previous = stamps();
        }
      }

      /** Waits up to about a millisecond for a change; true once anything changed. */
      boolean poll() {
        boolean changed = false;
        if (watcher != null) {
          try {
            for (WatchKey key = watcher.poll(1, TimeUnit.MILLISECONDS); key != null; key = watcher.poll()) {
              changed |= !key.pollEvents().isEmpty();
              key.reset();
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
          }
        } else {
          LockSupport.parkNanos(300_000);
          Map<Path, Object> now = stamps();
          changed = !now.equals(previous);
          previous = now;
        }
        if (changed) {
          last = System.nanoTime();
          if (first == 0) {
            first = last;
          }
        }
        return first != 0;
      }

      @Override
      public void close() throws IOException {
        if (watcher != null) {
          watcher.close();
        }
      }

      private Map<Path, Object> stamps() {
        Map<Path, Object> out = new LinkedHashMap<>();
        for (Path p : watched()) {
          try {
            BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            out.put(p, List.of(String.valueOf(attrs.fileKey()), attrs.lastModifiedTime(), attrs.size()));
          } catch (IOException e) {
            out.put(p, "absent");
          }
        }
        return out;
      }
    }

    List<Path> watched() {
      List<Path> out = new ArrayList<>();
      out.add(fs.lexical(STATE_DIR).resolve(LastKnownGood.FILE_NAME));
      out.add(fs.lexical("/var/lib/istio/envoy/cluster.env"));
      out.add(fs.lexical("/var/lib/istio/config/mesh"));
      out.add(fs.lexical(Destination.ROOT_CERT.path()));
      out.add(fs.lexical(Destination.TOKEN.path()));
      out.add(fs.lexical(Destination.HOSTS));
      return out;
    }

    /** Looks at the root; every problem found makes this kill torn. */
    Observation check(String what, Version expected) throws IOException {
      Observation o = observe();
      if (!o.problems().isEmpty()) {
        stats.torn.incrementAndGet();
        for (String p : o.problems()) {
          problem(what + " (installing " + expected.name() + "): " + p);
        }
      }
      last = o;
      return o;
    }

    Observation observe() throws IOException {
      Map<String, String> labels = new LinkedHashMap<>();
      List<String> problems = new ArrayList<>();

      Path stateDir = fs.lexical(STATE_DIR);
      Path lkgFile = stateDir.resolve(LastKnownGood.FILE_NAME);
      if (!Files.exists(lkgFile, LinkOption.NOFOLLOW_LINKS)) {
        labels.put("last-known-good", "-");
      } else {
        try {
          RawBundle stored = new LastKnownGood(stateDir).load().orElseThrow().bundle();
          new BundleVerifier(Clock.systemUTC(), Set.of()).verifyForRestore(stored);
          String label = a.holds(stored) ? "A" : b.holds(stored) ? "B" : null;
          if (label == null) {
            problems.add("the last-known-good holds neither A nor B (revision " + stored.revision() + ")");
          }
          labels.put("last-known-good", label == null ? "?" : label);
          expectMode(lkgFile, "rw-------", 0, 0, problems);
        } catch (Exception e) {
          problems.add("the last-known-good does not load and verify: " + e + "; " + describe(read(lkgFile)));
          labels.put("last-known-good", "?");
        }
      }

      for (Destination d : FILES) {
        Path p = fs.resolve(d.path());
        String item = d.file().fileName().equals("mesh.yaml") ? "mesh" : d.file().fileName();
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
          labels.put(item, "-");
          continue;
        }
        byte[] content = read(p);
        String label = Arrays.equals(content, a.installed().get(d.file())) ? "A"
            : Arrays.equals(content, b.installed().get(d.file())) ? "B" : null;
        if (label == null) {
          problems.add(d.path() + " is torn: " + describe(content));
          labels.put(item, "?");
        } else {
          labels.put(item, label);
          expectMode(p, PosixFilePermissions.toString(d.mode()), TestBundles.PROXY_UID, TestBundles.PROXY_GID,
              problems);
        }
      }

      String hosts = new String(read(fs.resolve(Destination.HOSTS)), StandardCharsets.ISO_8859_1);
      String hostsLabel = hosts.equals(a.hostsText()) ? "A" : hosts.equals(b.hostsText()) ? "B"
          : hosts.equals(SEED_HOSTS) ? "-" : "?";
      labels.put("hosts", hostsLabel);
      problems.addAll(hostsProblems(hosts, hostsLabel));

      for (String item : ITEMS) {
        String label = labels.get(item);
        if (label.equals("-") && seen.contains(item)) {
          problems.add(item + " was there and is gone");
        } else if (!label.equals("-") && !label.equals("?")) {
          seen.add(item);
        }
      }

      try {
        new StatusFile(fs.lexical(RUN_DIR)).read();
      } catch (IOException | RuntimeException e) {
        problems.add("status.json does not parse: " + e);
      }
      // The daemon's copy of the last config.yaml that loaded: what a start with a broken config.yaml runs on.
      Path keptConfig = fs.lexical(STATE_DIR).resolve(KEPT_CONFIG);
      if (Files.exists(keptConfig, LinkOption.NOFOLLOW_LINKS)) {
        try {
          ConfigLoader.load(keptConfig);
        } catch (ConfigException | RuntimeException e) {
          problems.add(KEPT_CONFIG + " does not load: " + e.getMessage());
        }
      }

      Set<String> temps = new TreeSet<>();
      Set<Path> expected = new HashSet<>(watched());
      expected.add(root.resolve("etc/passwd"));
      expected.add(root.resolve("etc/istio-vm-agent/config.yaml"));
      expected.add(fs.lexical(RUN_DIR).resolve(StatusFile.FILE_NAME));
      expected.add(keptConfig);
      try (Stream<Path> walk = Files.walk(root)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p) || expected.contains(p)) {
            continue;
          }
          Matcher m = TEMP.matcher(p.getFileName().toString());
          if (m.matches() && expected.contains(p.resolveSibling(m.group(1)))) {
            temps.add(root.relativize(p).toString());
          } else {
            problems.add("stray file " + root.relativize(p));
          }
        }
      }
      return new Observation(labels, problems, temps);
    }

    /** /etc/hosts line by line, independently of the exact texts: what is wrong, if anything. */
    List<String> hostsProblems(String hosts, String label) {
      List<String> problems = new ArrayList<>();
      if (label.equals("?")) {
        problems.add("/etc/hosts is neither the seed nor the seed edited for A or B: " + describe(
            hosts.getBytes(StandardCharsets.ISO_8859_1)));
      }
      List<String> lines = hosts.lines().toList();
      long begins = lines.stream().filter(HostsBlock.BEGIN::equals).count();
      long ends = lines.stream().filter(HostsBlock.END::equals).count();
      if (begins != ends || begins > 1 || (begins == 0 && seen.contains("hosts"))) {
        problems.add("/etc/hosts has " + begins + " BEGIN and " + ends + " END lines (exactly one block expected)");
      }
      List<String> lost = SEED_HOSTS.lines()
          .filter(l -> !lines.contains(l) && !lines.contains(HostsBlock.DISABLED + l)).map(l -> "'" + l + "'").toList();
      if (!lost.isEmpty()) {
        problems.add("/etc/hosts lost " + lost.size() + " foreign line(s): " + String.join(", ", lost));
      }
      if (!HostsBlock.remove(hosts).equals(SEED_HOSTS)) {
        problems.add("/etc/hosts without the agent's edits is not the seeded file");
      }
      return problems;
    }

    void expectMode(Path p, String mode, int uid, int gid, List<String> problems) throws IOException {
      String actual = PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
      int u = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      int g = (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
      if (!actual.equals(mode) || u != uid || g != gid) {
        problems.add(root.relativize(p) + " is " + u + ":" + g + " " + actual + ", expected " + uid + ":" + gid + " "
            + mode);
      }
    }

    /** The last, whole `apply` and a purge: the root must come back to one version, then to the seeded hosts. */
    void finish() throws Exception {
      Version v = targetVersion();
      settledApply(v);
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int code = Main.run(Clock.systemUTC(), new PrintWriter(out), new PrintWriter(err), "--root", root.toString(),
          "purge");
      if (code != 0) {
        problem("purge exited " + code + ": " + out + err);
      }
      String hosts = Files.readString(root.resolve("etc/hosts"), StandardCharsets.ISO_8859_1);
      if (!hosts.equals(SEED_HOSTS)) {
        problem("after purge /etc/hosts is not the seeded file:\n" + hosts);
      }
      if (Files.exists(fs.lexical(STATE_DIR))) {
        problem("purge left " + STATE_DIR);
      }
    }
  }

  // --- helpers ---

  /**
   * java, the packaged launcher's JVM options, a class path of jars (the agent's classes jarred from the test class
   * path, and its dependencies) and a class-data archive made once by one `apply` here: the same code, about a fifth
   * less CPU per child, which is most of this test's time. Without the archive (it could not be made) all the same.
   */
  static List<String> childJvm(Path dir, Version v) throws Exception {
    Files.createDirectories(dir);
    Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> classPath = new ArrayList<>();
    if (Files.isDirectory(classes)) {
      Path jar = dir.resolve("agent-classes.jar");
      try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
          Stream<Path> walk = Files.walk(classes)) {
        for (Path p : (Iterable<Path>) walk::iterator) {
          if (Files.isRegularFile(p)) {
            out.putNextEntry(new JarEntry(classes.relativize(p).toString().replace('\\', '/')));
            Files.copy(p, out);
            out.closeEntry();
          }
        }
      }
      classPath.add(jar.toString());
    } else {
      classPath.add(classes.toString());
    }
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (e.endsWith(".jar") && Files.isRegularFile(Path.of(e)) && !Path.of(e).equals(classes)) {
        classPath.add(e);
      }
    }
    List<String> jvm = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC", "-Xms8m", "-Xmx64m", "-Xss512k", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
        "-Xshare:auto", "-Dfile.encoding=UTF-8", "-cp", String.join(File.pathSeparator, classPath)));
    Path archive = dir.resolve("agent.jsa");
    Path root = TestBundles.newRoot(dir.resolve("root"), true);
    Path bundle = dir.resolve("bundle.tar.gz");
    Files.write(bundle, v.tarGz());
    List<String> dump = new ArrayList<>(jvm);
    dump.add(1, "-XX:ArchiveClassesAtExit=" + archive);
    dump.addAll(List.of(Main.class.getName(), "--root", root.toString(), "apply", bundle.toString()));
    Process p = startChild(dump, dir.resolve("dump.log"));
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
    }
    if (Files.isRegularFile(archive)) {
      jvm.add(1, "-XX:SharedArchiveFile=" + archive);
      System.out.println("crash consistency: children share a class-data archive of " + Files.size(archive) / 1024
          + " KiB");
    } else {
      System.out.println("crash consistency: no class-data archive (" + Files.readString(dir.resolve("dump.log"))
          + "); children start without one");
    }
    jvm.add(Main.class.getName());
    return List.copyOf(jvm);
  }

  /** Children still running, killed if this JVM is stopped mid-test (a surefire timeout, ^C). */
  private static final Set<Process> CHILDREN = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> CHILDREN.forEach(Process::destroyForcibly),
        "crash-consistency-children"));
  }

  static Process startChild(List<String> cmd, Path log) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().remove("NOTIFY_SOCKET");
    pb.environment().remove("WATCHDOG_USEC");
    Process p = pb.start();
    CHILDREN.add(p);
    p.onExit().thenRun(() -> CHILDREN.remove(p));
    return p;
  }

  /** A wait that timed out. */
  static final class Stuck extends RuntimeException {
    Stuck(String message) {
      super(message);
    }
  }

  /** Polls cond every pollNanos (0: cond waits itself) until it holds, failing after timeoutMs. */
  static void awaitCondition(BooleanSupplier cond, long timeoutMs, String what, long pollNanos) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        throw new Stuck("timed out after " + timeoutMs + " ms waiting for " + what);
      }
      if (pollNanos > 0) {
        LockSupport.parkNanos(pollNanos);
      }
    }
  }

  /** The random kill instant: a delay uniform in [0, maxMs). */
  static void parkRandom(Random random, double maxMs) {
    long nanos = (long) (Math.max(1, maxMs) * 1e6 * random.nextDouble());
    long deadline = System.nanoTime() + nanos;
    while (System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(deadline - System.nanoTime());
    }
  }

  static double ewma(double old, double sample) {
    return 0.7 * old + 0.3 * sample;
  }

  static byte[] read(Path p) throws IOException {
    return Files.readAllBytes(p);
  }

  static String describe(byte[] content) {
    String s = new String(content, 0, Math.min(content.length, 60), StandardCharsets.ISO_8859_1)
        .replace("\n", "\\n");
    return content.length + " bytes: '" + s + (content.length > 60 ? "...'" : "'");
  }
}
