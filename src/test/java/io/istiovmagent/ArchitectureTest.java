package io.istiovmagent;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;

/**
 * The package graph of the production classes, read from the compiled classes: no cycles, and imports point one
 * way. The layers are the modules a later split cuts the build into, so an edge this test refuses is one that would
 * not compile then:
 *
 * <pre>
 *   shared core   util, protocol, bundle, verify          (both the agent and the onboarding service)
 *        ^
 *   agent fs      fs: the symlink-safe file-system primitives (RootFs, DirHandle, AtomicFile ...)
 *        ^
 *   agent parts   config, install, status, systemd, sidecar, report, retry
 *        ^
 *   daemon
 *        ^
 *   cli           ──> server (ServeCommand only) and sample (SampleBundleCommand only): the two edges that leave
 *                     the agent, until `serve` moves to istio-vm-onboarding and sample to the test fixtures
 *
 *   server        the onboarding service: the shared core only, never an agent package
 *   sample        the sample bundle generator (demo and tests): the shared core only
 * </pre>
 *
 * <p>Inside the agent parts any acyclic edge is allowed, with one bound: install is the installer (observe, plan,
 * apply), and only the daemon and the CLI drive it; status, sidecar, report and the other agent parts write files
 * through fs, never through install. bundle still holds the agent's HTTPS source next to the bundle model; the split
 * moves it to the agent (the server already uses neither it nor OkHttp).
 */
@AnalyzeClasses(packages = "io.istiovmagent", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String P = "io.istiovmagent.";
  private static final String[] AGENT_PARTS = {P + "config..", P + "install..", P + "status..", P + "systemd..",
      P + "sidecar..", P + "report..", P + "retry.."};

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("io.istiovmagent.(*)..").should().beFreeOfCycles();

  @ArchTest
  static final ArchRule layersPointOneWay = layeredArchitecture().consideringOnlyDependenciesInLayers()
      .layer("shared core").definedBy(P + "util..", P + "protocol..", P + "bundle..", P + "verify..")
      .layer("agent fs").definedBy(P + "fs..")
      .layer("agent parts").definedBy(AGENT_PARTS)
      .layer("daemon").definedBy(P + "daemon..")
      .layer("cli").definedBy(P + "cli..")
      .layer("onboarding service").definedBy(P + "server..")
      .layer("sample generator").definedBy(P + "sample..")
      .whereLayer("cli").mayNotBeAccessedByAnyLayer()
      .whereLayer("daemon").mayOnlyBeAccessedByLayers("cli")
      .whereLayer("agent parts").mayOnlyBeAccessedByLayers("daemon", "cli")
      .whereLayer("agent fs").mayOnlyBeAccessedByLayers("agent parts", "daemon", "cli")
      .whereLayer("onboarding service").mayOnlyBeAccessedByLayers("cli")
      .whereLayer("sample generator").mayOnlyBeAccessedByLayers("cli")
      // A new package must be placed in a layer (and here) before it can be used.
      .ensureAllClassesAreContainedInArchitecture();

  @ArchTest
  static final ArchRule onlyServeReachesTheOnboardingService = noClasses()
      .that().resideOutsideOfPackage(P + "server..").and().doNotHaveFullyQualifiedName(P + "cli.ServeCommand")
      .should().dependOnClassesThat().resideInAPackage(P + "server..");

  @ArchTest
  static final ArchRule onlySampleBundleReachesTheGenerator = noClasses()
      .that().resideOutsideOfPackage(P + "sample..").and().doNotHaveFullyQualifiedName(P + "cli.SampleBundleCommand")
      .should().dependOnClassesThat().resideInAPackage(P + "sample..");

  /** The VM's runtime is jlinked without jdk.httpserver: only the onboarding service may use it. */
  @ArchTest
  static final ArchRule onlyTheOnboardingServiceServesHttp = noClasses()
      .that().resideOutsideOfPackage(P + "server..")
      .should().dependOnClassesThat().resideInAPackage("com.sun.net.httpserver..");

  /** What the agent brings to a VM (its HTTP client, libc over JNA) stays out of the onboarding service. */
  @ArchTest
  static final ArchRule theOnboardingServiceUsesNoAgentLibrary = noClasses()
      .that().resideInAPackage(P + "server..")
      .should().dependOnClassesThat().resideInAnyPackage("okhttp3..", "com.sun.jna..");

  @ArchTest
  static final ArchRule productionNeverUsesTestFixtures = noClasses()
      .should().dependOnClassesThat().resideInAnyPackage(P + "testing..", P + "bench..", "org.junit..",
          "mockwebserver3..", "okhttp3.mockwebserver..", "okhttp3.tls..", "com.code_intelligence..");

  @ArchTest
  static final ArchRule onlyTheDaemonAndTheCliDriveTheInstaller = noClasses()
      .that().resideInAnyPackage(AGENT_PARTS).and().resideOutsideOfPackage(P + "install..")
      .should().dependOnClassesThat().resideInAPackage(P + "install..");

  /**
   * A top-level class is public only when a production class of another package uses it: nothing is public for a
   * test or the benchmark (they reach package-private classes through test-scope bridges in the same package, e.g.
   * daemon.FleetSchedule). Exempt: cli.Main, the jar's entry point; bundle.TarGzReader, the bundle archive's
   * reader in the shared core beside TarGzWriter; bundle.BundleLimits, whose limits are compile-time constants that
   * javac copies into verify.MeshConfig, so no class file shows the use (the one blind spot of reading class files:
   * an import used only for such a constant is not seen by any rule here).
   */
  @ArchTest
  static final ArchRule publicOnlyWhenAnotherPackageUsesIt = classes()
      .that().arePublic().and().areTopLevelClasses()
      .and().doNotHaveFullyQualifiedName(P + "cli.Main").and().doNotHaveFullyQualifiedName(P + "bundle.TarGzReader")
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
