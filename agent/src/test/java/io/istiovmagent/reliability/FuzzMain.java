package io.istiovmagent.reliability;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.PrintWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs one @FuzzTest method in this JVM through the JUnit Platform, in Jazzer's fuzzing mode when JAZZER_FUZZ is set
 * (a system property or the environment). Exits 0 when it ran and found nothing. FuzzingTest starts one of these per
 * target, because Jazzer fuzzes only one @FuzzTest per JVM (libFuzzer's state is global).
 *
 * <p>Usage: FuzzMain CLASS METHOD
 */
public final class FuzzMain {
  private FuzzMain() {}

  public static void main(String[] args) {
    LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
        .selectors(selectMethod(args[0] + "#" + args[1] + "(byte[])"))
        .build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    launcher.execute(request, summary);
    TestExecutionSummary s = summary.getSummary();
    s.printTo(new PrintWriter(System.out, true));
    s.printFailuresTo(new PrintWriter(System.out, true), 40);
    boolean ok = s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 && s.getTestsSkippedCount() == 0
        && s.getTestsAbortedCount() == 0;
    System.out.flush();
    System.exit(ok ? 0 : 1);
  }
}
