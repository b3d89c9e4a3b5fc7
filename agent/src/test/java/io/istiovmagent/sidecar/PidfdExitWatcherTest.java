package io.istiovmagent.sidecar;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.sidecar.ExitWatcher.Armed;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pidfd watcher against real processes: `sleep`s started, killed, reaped or left as zombies. */
class PidfdExitWatcherTest {
  /** Far longer than an exit takes to arrive (microseconds); only a loaded machine comes near it. */
  private static final Duration PROMPT = Duration.ofSeconds(2);

  private final List<Process> started = new ArrayList<>();
  private final LinkedBlockingQueue<Long> exits = new LinkedBlockingQueue<>();
  private final PidfdExitWatcher watcher = new PidfdExitWatcher("test-exit-watch");

  @AfterEach
  void cleanUp() {
    watcher.close();
    started.forEach(Process::destroyForcibly);
  }

  private Process sleeper() throws IOException {
    Process p = new ProcessBuilder("sleep", "300").redirectErrorStream(true).start();
    started.add(p);
    return p;
  }

  /** The next exit reported, waiting at most {@link #PROMPT}; null if none came. */
  private Long nextExit() throws InterruptedException {
    return exits.poll(PROMPT.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Test
  void reportsTheExitOfAWatchedProcessAtOnce() throws Exception {
    Process p = sleeper();
    assertEquals(Armed.WATCHING, watcher.watch(p.pid(), exits::add));
    assertEquals(null, exits.poll(), "nothing while it runs");
    long killed = System.nanoTime();
    p.destroyForcibly();
    assertEquals(p.pid(), nextExit());
    long ms = (System.nanoTime() - killed) / 1_000_000;
    assertTrue(ms < PROMPT.toMillis(), "reported after " + ms + " ms");
    assertTrue(watcher.unsupportedReason().isEmpty(), watcher.unsupportedReason().toString());
  }

  @Test
  void reportsAnExitOnceAndWatchesTheNextProcessAfterIt() throws Exception {
    Process first = sleeper();
    Process second = sleeper();
    watcher.watch(first.pid(), exits::add);
    first.destroyForcibly();
    assertEquals(first.pid(), nextExit());
    // The restarted sidecar: a new PID, watched by the same thread.
    assertEquals(Armed.WATCHING, watcher.watch(second.pid(), exits::add));
    second.destroyForcibly();
    assertEquals(second.pid(), nextExit());
    assertEquals(null, exits.poll(200, TimeUnit.MILLISECONDS), "each exit once: " + exits);
  }

  @Test
  void aProcessThatIsAlreadyGoneIsGoneNotWatched() throws Exception {
    Process p = sleeper();
    long pid = p.pid();
    p.destroyForcibly().waitFor(); // exited and reaped: the PID names nothing now
    assertEquals(Armed.GONE, watcher.watch(pid, exits::add));
    assertEquals(null, exits.poll(200, TimeUnit.MILLISECONDS));
  }

  @Test
  void aReplacedPidIsWatchedInsteadOfTheOldOne() throws Exception {
    Process old = sleeper();
    Process replacement = sleeper();
    watcher.watch(old.pid(), exits::add);
    assertEquals(Armed.WATCHING, watcher.watch(replacement.pid(), exits::add));
    old.destroyForcibly().waitFor();
    assertEquals(null, exits.poll(300, TimeUnit.MILLISECONDS), "the old process is no longer watched");
    replacement.destroyForcibly();
    assertEquals(replacement.pid(), nextExit());
  }

  @Test
  void watchingTheSameProcessAgainChangesNothing() throws Exception {
    Process p = sleeper();
    assertEquals(Armed.WATCHING, watcher.watch(p.pid(), exits::add));
    assertEquals(Armed.WATCHING, watcher.watch(p.pid(), exits::add));
    p.destroyForcibly();
    assertEquals(p.pid(), nextExit());
    assertEquals(null, exits.poll(200, TimeUnit.MILLISECONDS), "reported once");
  }

  @Test
  void aZombieNotYetReapedCountsAsExitedAtOnce() throws Exception {
    // The parent `exec`s a sleep that never waits for its child: once killed, the child stays a zombie, as the
    // sidecar's main process does until systemd reaps it. Before that exec the parent is still the shell, and dash
    // reaps a background child that dies then (wait4(-1, WNOHANG) on SIGCHLD before it runs `exec`), so the child
    // is killed only once the parent has become sleep.
    Process parent = new ProcessBuilder("sh", "-c", "sleep 300 & echo $!; exec sleep 300").start();
    started.add(parent);
    long child;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(parent.getInputStream(),
        StandardCharsets.US_ASCII))) {
      child = Long.parseLong(r.readLine().strip());
    }
    await(parent.pid(), s -> s.comm().equals("sleep"), "exec sleep");
    ProcessHandle.of(child).orElseThrow().destroyForcibly();
    Stat zombie = await(child, s -> s.state() == 'Z', "become a zombie");
    assertEquals(parent.pid(), zombie.ppid(), "a zombie of the parent that never reaps");
    assertEquals(Armed.WATCHING, watcher.watch(child, exits::add));
    assertEquals(child, nextExit());
  }

  @Test
  void closingEndsTheThreadAndRefusesFurtherWatches() throws Exception {
    Process p = sleeper();
    watcher.watch(p.pid(), exits::add);
    assertTrue(threadRunning("test-exit-watch"));
    watcher.close();
    assertFalse(threadRunning("test-exit-watch"), "the thread ends with close()");
    p.destroyForcibly();
    assertEquals(null, exits.poll(200, TimeUnit.MILLISECONDS), "a closed watcher reports nothing");
    assertThrows(IllegalStateException.class, () -> watcher.watch(p.pid(), exits::add));
  }

  @Test
  void noThreadUntilSomethingIsWatched() {
    assertFalse(threadRunning("test-exit-watch"));
  }

  @Test
  void refusesWhatIsNotAProcessId() {
    assertThrows(IllegalArgumentException.class, () -> watcher.watch(0, exits::add));
    assertThrows(IllegalArgumentException.class, () -> watcher.watch(-1, exits::add));
    assertThrows(IllegalArgumentException.class, () -> watcher.watch(1L << 40, exits::add));
  }

  @Test
  void noWatcherAtAllSaysSo() {
    try (ExitWatcher none = ExitWatcher.none()) {
      assertEquals(Armed.UNSUPPORTED, none.watch(ProcessHandle.current().pid(), exits::add));
      assertTrue(none.unsupportedReason().isPresent());
    }
  }

  private static boolean threadRunning(String name) {
    return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
  }

  /** The fields of /proc/PID/stat this test reads. */
  private record Stat(String comm, char state, long ppid) {
    static Stat of(long pid) throws IOException {
      String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // The command name is in parentheses and may hold spaces or parentheses itself: the last ')' ends it.
      String[] rest = s.substring(s.lastIndexOf(')') + 2).split(" ");
      return new Stat(s.substring(s.indexOf('(') + 1, s.lastIndexOf(')')), rest[0].charAt(0), Long.parseLong(rest[1]));
    }
  }

  /** Waits (a deadline, checked every 10 ms) until /proc says the process is as wanted. */
  private static Stat await(long pid, Predicate<Stat> wanted, String what) throws Exception {
    long deadline = System.nanoTime() + PROMPT.toNanos();
    while (true) {
      Stat s = Stat.of(pid);
      if (wanted.test(s)) {
        return s;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("process " + pid + " did not " + what + ": " + s);
      }
      Thread.sleep(10);
    }
  }
}
