package io.istiovmagent;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The package graph of the three programs' production classes (the shared core, the VM agent, the onboarding
 * service), read from the compiled classes: no cycles, and imports point one way. Maven's module boundaries hold the
 * edges between programs (the onboarding service does not have the agent on its class path, the agent's main code has
 * neither the service nor the test fixtures); this test holds the layers inside the agent, and checks the modules'
 * graph once more from the classes themselves:
 *
 * <pre>
 *   shared core   util, protocol, bundle, verify              module core: both programs use it
 *        ^
 *   agent fs      fs: the symlink-safe file-system primitives  module agent
 *        ^
 *   agent parts   config, install, status, systemd, sidecar, report, retry, source, metrics
 *        ^
 *   daemon
 *        ^
 *   cli           the istio-vm-agent command line
 *
 *   onboarding    server, onboarding (its command line)        module onboarding: the shared core only
 * </pre>
 *
 * <p>Inside the agent parts any acyclic edge is allowed, with one bound: install is the installer (observe, plan,
 * apply), and only the daemon and the CLI drive it; status, sidecar, report and the other agent parts write files
 * through fs, never through install.
 */
@AnalyzeClasses(packages = "io.istiovmagent", importOptions = ArchitectureTest.ThreePrograms.class)
class ArchitectureTest {
  private static final String P = "io.istiovmagent.";
  private static final String[] AGENT_PARTS = {P + "config..", P + "install..", P + "status..", P + "systemd..",
      P + "sidecar..", P + "report..", P + "retry..", P + "source..", P + "metrics.."};

  /**
   * The production classes of core, agent and onboarding, whether Maven hands them over as a module's classes
   * directory or its jar (in the reactor or the local repository); not the test fixtures, the onboarding service's
   * test jar, or any test classes.
   */
  static final class ThreePrograms implements ImportOption {
    private static final Pattern PRODUCTION = Pattern.compile(
        ".*/((core|agent|onboarding)/target/classes/|istio-vm-(core|agent|onboarding)(-[0-9][^/!]*?)?\\.jar!/).*");

    @Override
    public boolean includes(Location location) {
      return location.matches(PRODUCTION) && !location.contains("-tests.jar");
    }
  }

  @Test
  void theThreeProgramsAreAllImported() {
    JavaClasses classes = new ClassFileImporter().withImportOption(new ThreePrograms())
        .importPackages("io.istiovmagent");
    for (String c : List.of(P + "cli.Main", P + "onboarding.OnboardingMain", P + "bundle.TarGzReader")) {
      assertTrue(classes.contain(c), c + " is imported: the rules below see all three programs");
    }
    for (String c : List.of(P + "sample.SampleBundle", P + "testing.Repo", P + "server.ServerFixture",
        P + "ArchitectureTest")) {
      assertFalse(classes.contain(c), c + " is a fixture or a test, not a program's class");
    }
  }

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("io.istiovmagent.(*)..").should().beFreeOfCycles();

  @ArchTest
  static final ArchRule layersPointOneWay = layeredArchitecture().consideringOnlyDependenciesInLayers()
      .layer("shared core").definedBy(P + "util..", P + "protocol..", P + "bundle..", P + "verify..")
      .layer("agent fs").definedBy(P + "fs..")
      .layer("agent parts").definedBy(AGENT_PARTS)
      .layer("daemon").definedBy(P + "daemon..")
      .layer("cli").definedBy(P + "cli..")
      .layer("onboarding service").definedBy(P + "server..", P + "onboarding..")
      .whereLayer("cli").mayNotBeAccessedByAnyLayer()
      .whereLayer("daemon").mayOnlyBeAccessedByLayers("cli")
      .whereLayer("agent parts").mayOnlyBeAccessedByLayers("daemon", "cli")
      .whereLayer("agent fs").mayOnlyBeAccessedByLayers("agent parts", "daemon", "cli")
      .whereLayer("onboarding service").mayNotBeAccessedByAnyLayer()
      // A new package must be placed in a layer (and here) before it can be used.
      .ensureAllClassesAreContainedInArchitecture();

  @ArchTest
  static final ArchRule onlyTheOnboardingServiceServesHttp = noClasses()
      .that().resideOutsideOfPackages(P + "server..", P + "onboarding..")
      .should().dependOnClassesThat().resideInAPackage("com.sun.net.httpserver..");

  /** What the agent brings to a VM (its HTTP client, libc over JNA) stays out of the onboarding service. */
  @ArchTest
  static final ArchRule theOnboardingServiceUsesNoAgentLibrary = noClasses()
      .that().resideInAnyPackage(P + "server..", P + "onboarding..")
      .should().dependOnClassesThat().resideInAnyPackage("okhttp3..", "com.sun.jna..");

  @ArchTest
  static final ArchRule productionNeverUsesTestFixtures = noClasses()
      .should().dependOnClassesThat().resideInAnyPackage(P + "testing..", P + "sample..", P + "bench..", "org.junit..",
          "mockwebserver3..", "okhttp3.mockwebserver..", "okhttp3.tls..", "com.code_intelligence..");

  @ArchTest
  static final ArchRule onlyTheDaemonAndTheCliDriveTheInstaller = noClasses()
      .that().resideInAnyPackage(AGENT_PARTS).and().resideOutsideOfPackage(P + "install..")
      .should().dependOnClassesThat().resideInAPackage(P + "install..");

  /**
   * A top-level class is public only when a production class of another package uses it: nothing is public for a
   * test or the benchmark (they reach package-private classes through test-scope bridges in the same package, e.g.
   * daemon.FleetSchedule in the bench module). Exempt: the two entry points (cli.Main, onboarding.OnboardingMain);
   * bundle.BundleLimits, whose limits are compile-time constants that javac copies into verify.MeshConfig, so no
   * class file shows the use (the one blind spot of reading class files: an import used only for such a constant is
   * not seen by any rule here).
   */
  @ArchTest
  static final ArchRule publicOnlyWhenAnotherPackageUsesIt = classes()
      .that().arePublic().and().areTopLevelClasses()
      .and().doNotHaveFullyQualifiedName(P + "cli.Main")
      .and().doNotHaveFullyQualifiedName(P + "onboarding.OnboardingMain")
      .and().doNotHaveFullyQualifiedName(P + "bundle.BundleLimits")
      .should(new ArchCondition<JavaClass>("be used by a class of another package") {
        @Override
        public void check(JavaClass c, ConditionEvents events) {
          boolean used = c.getDirectDependenciesToSelf().stream()
              .anyMatch(d -> !d.getOriginClass().getPackageName().equals(c.getPackageName()));
          if (!used) {
            events.add(SimpleConditionEvent.violated(c, c.getName() + " is public, but no class of another package "
                + "uses it: make it package-private"));
          }
        }
      });
}
