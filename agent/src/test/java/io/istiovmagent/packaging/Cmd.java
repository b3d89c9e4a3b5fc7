package io.istiovmagent.packaging;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a real program, as the packaging checks do: the tools Debian has (dpkg-deb, lintian, systemd-analyze...). */
final class Cmd {
  /** How a program ended. */
  record Result(int code, String out, String err) {
    String all() {
      return out + err;
    }
  }

  private Cmd() {}

  static Result run(List<String> argv) throws IOException, InterruptedException {
    return run(argv, Map.of());
  }

  static Result run(List<String> argv, Map<String, String> env) throws IOException, InterruptedException {
    return run(argv, env, Duration.ofMinutes(5));
  }

  static Result run(List<String> argv, Map<String, String> env, Duration timeout)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(argv);
    pb.environment().putAll(env);
    Path out = Files.createTempFile("cmd-out", ".txt");
    Path err = Files.createTempFile("cmd-err", ".txt");
    try {
      Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s: " + argv);
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /**
   * The path of a tool the check needs. Missing is a failure, not a skip: CI must check this, and
   * dev/ensure-tools installs every one of them.
   */
  static String require(String tool, String debianPackage) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, tool);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    for (String dir : new String[] {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
      Path p = Path.of(dir, tool);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new AssertionError(tool + " is not installed, and this check needs it: apt-get install " + debianPackage
        + " (./dev/ensure-tools installs it)");
  }
}
