package io.istiovmagent.sidecar;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A real executable standing in for {@code systemctl}: a shell script that appends each call's arguments to a
 * file, prints canned {@code show} output and stderr, and exits with a chosen code, or hangs on request.
 */
public final class FakeSystemctl {
  final Path dir;
  public final Path binary;
  private final Path calls;

  private FakeSystemctl(Path dir) {
    this.dir = dir;
    this.binary = dir.resolve("systemctl");
    this.calls = dir.resolve("calls");
  }

  /** Writes the script into {@code dir}; it exits 0 and prints nothing until told otherwise. */
  public static FakeSystemctl install(Path dir) throws IOException {
    FakeSystemctl f = new FakeSystemctl(dir);
    String d = "'" + dir.toAbsolutePath() + "'";
    String script = "#!/bin/sh\n"
        + "for a in \"$@\"; do printf '[%s]' \"$a\"; done >> " + d + "/calls\n"
        + "echo >> " + d + "/calls\n"
        + "printf '%s' \"$LC_ALL\" > " + d + "/lc_all\n"
        + "if [ -f " + d + "/hang ]; then sleep 60 & echo $! > " + d + "/sleep.pid; wait; fi\n"
        + "if [ \"$1\" = show ] && [ -f " + d + "/show.out ]; then cat " + d + "/show.out; fi\n"
        + "if [ -f " + d + "/stderr ]; then cat " + d + "/stderr >&2; fi\n"
        + "if [ -f " + d + "/exit ]; then exit \"$(cat " + d + "/exit)\"; fi\n"
        + "exit 0\n";
    Files.writeString(f.binary, script, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(f.binary, PosixFilePermissions.fromString("rwxr-xr-x"));
    return f;
  }

  public FakeSystemctl showPrints(String output) throws IOException {
    Files.writeString(dir.resolve("show.out"), output, StandardCharsets.UTF_8);
    return this;
  }

  public FakeSystemctl fails(int exitCode, String stderr) throws IOException {
    Files.writeString(dir.resolve("exit"), Integer.toString(exitCode), StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("stderr"), stderr, StandardCharsets.UTF_8);
    return this;
  }

  public FakeSystemctl hangs() throws IOException {
    Files.writeString(dir.resolve("hang"), "", StandardCharsets.UTF_8);
    return this;
  }

  /** Each call's arguments as "[a][b][c]", in order; empty when it was never run. */
  public List<String> calls() throws IOException {
    return Files.exists(calls) ? Files.readAllLines(calls, StandardCharsets.UTF_8) : List.of();
  }

  /** LC_ALL as the last call saw it. */
  String lcAll() throws IOException {
    return Files.readString(dir.resolve("lc_all"), StandardCharsets.UTF_8);
  }

  /** The PID of the child the hanging script left sleeping. */
  long sleeperPid() throws IOException {
    return Long.parseLong(Files.readString(dir.resolve("sleep.pid"), StandardCharsets.UTF_8).strip());
  }
}
