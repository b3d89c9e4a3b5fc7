package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.install.InstallReport;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.testing.Repo;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the agent prints does not depend on the process's locale: under Turkish, "I".toLowerCase() is a dotless
 * "ı", and "repaired" printed as "repaıred".
 */
class TurkishLocaleTest {
  private static final Pattern DEFAULT_LOCALE_CASE = Pattern.compile("\\.to(Lower|Upper)Case\\(\\)");

  private Locale saved;

  @BeforeEach
  void turkish() {
    saved = Locale.getDefault();
    Locale.setDefault(Locale.forLanguageTag("tr-TR"));
  }

  @AfterEach
  void restore() {
    Locale.setDefault(saved);
  }

  @Test
  void installActionsAreLabelledInAscii() {
    assertEquals("repaıred", "REPAIRED".toLowerCase(), "the test runs under a Turkish locale");
    for (InstallReport.Action a : InstallReport.Action.values()) {
      assertEquals(a.name().toLowerCase(Locale.ROOT), a.label());
    }
  }

  @Test
  void statusPrintsThePhaseInAscii() {
    Instant now = Instant.parse("2026-11-25T12:00:00Z");
    AgentStatus s = new AgentStatus(AgentStatus.FORMAT, 812, "test", now, now,
        AgentStatus.Phase.WAITING_FOR_CONFIGURATION, AgentStatus.Health.UNHEALTHY, List.of(), null, null, null, null,
        null, null);
    StringWriter out = new StringWriter();
    StatusCommand.print(new PrintWriter(out, true), s, true, now);
    assertTrue(out.toString().contains("(waiting for configuration, pid 812)"), out.toString());
  }

  /** Every case conversion in the agent names its locale: a new one without would print differently in Turkey. */
  @Test
  void noCaseConversionInTheSourcesUsesTheDefaultLocale() throws IOException {
    List<String> found = new ArrayList<>();
    try (Stream<Path> files = Files.walk(Repo.root()).filter(p -> p.toString().contains("/src/main/java/"))) {
      files.filter(p -> p.toString().endsWith(".java")).forEach(p -> {
        try {
          List<String> lines = Files.readAllLines(p);
          for (int i = 0; i < lines.size(); i++) {
            if (DEFAULT_LOCALE_CASE.matcher(lines.get(i)).find()) {
              found.add(p + ":" + (i + 1) + ": " + lines.get(i).strip());
            }
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
    assertEquals(List.of(), found, "use toLowerCase(Locale.ROOT) / toUpperCase(Locale.ROOT)");
  }
}
