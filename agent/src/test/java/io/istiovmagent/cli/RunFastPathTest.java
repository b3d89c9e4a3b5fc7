package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** The daemon's command line read without picocli (RunCommand.parseFast) reads as picocli does, or not at all. */
class RunFastPathTest {
  @ParameterizedTest
  @ValueSource(strings = {
      "run",
      "run --debug",
      "--root /tmp/vm run",
      "--root=/tmp/vm run",
      "run --root /tmp/vm",
      "run --debug --root=/tmp/vm",
      "--config /etc/other.yaml run --debug",
      "run --config=/c.yaml --root /r",
      "--root /r --config /c.yaml run",
      "--root relative/dir run",
  })
  void readsTheDaemonsCommandLinesAsPicocliDoes(String line) {
    String[] args = line.split(" ");
    Optional<RunCommand.Invocation> fast = RunCommand.parseFast(args);
    assertTrue(fast.isPresent(), "read without picocli: " + line);
    assertEquals(picocli(args), fast.get(), line);
  }

  /** Help, typos, repeats, missing values: picocli's to read, and to explain. */
  @ParameterizedTest
  @ValueSource(strings = {
      "", "run --help", "--help", "run -h", "--debug run", "run run", "run --debug --debug", "--root run",
      "run --root", "run --root=", "--root /a --root /b run", "run --root -x", "run --verbose", "status", "apply run",
      "run extra", "--root=/a run --config", "-r /a run", "run --debug=true",
  })
  void leavesEverythingElseToPicocli(String line) {
    assertEquals(Optional.empty(), RunCommand.parseFast(line.isEmpty() ? new String[0] : line.split(" ")), line);
  }

  private static RunCommand.Invocation picocli(String[] args) {
    Main main = new Main(Clock.systemUTC());
    CommandLine.ParseResult parsed = new CommandLine(main).parseArgs(args);
    RunCommand run = (RunCommand) parsed.subcommand().commandSpec().userObject();
    return new RunCommand.Invocation(main.root, Optional.ofNullable(main.config), run.debug);
  }

  @ParameterizedTest
  @ValueSource(strings = {"run", "--config /c.yaml run"})
  void theConfigurationPathIsPicocliPathsToo(String line) {
    Optional<RunCommand.Invocation> fast = RunCommand.parseFast(line.split(" "));
    Main main = new Main(Clock.systemUTC());
    new CommandLine(main).parseArgs(line.split(" "));
    RunCommand.Invocation i = fast.orElseThrow();
    assertEquals(main.configPath(), Main.configPath(new io.istiovmagent.fs.RootFs(i.root()), i.config().orElse(null)));
    assertEquals(line.contains("--config") ? Path.of("/c.yaml") : Path.of("/etc/istio-vm-agent/config.yaml"),
        main.configPath());
  }
}
