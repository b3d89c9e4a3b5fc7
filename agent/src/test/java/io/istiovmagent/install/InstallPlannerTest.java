package io.istiovmagent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.FileOwner;
import io.istiovmagent.install.DiskState.Absent;
import io.istiovmagent.install.DiskState.Directory;
import io.istiovmagent.install.DiskState.Entry;
import io.istiovmagent.install.DiskState.Link;
import io.istiovmagent.install.DiskState.Refused;
import io.istiovmagent.install.DiskState.Regular;
import io.istiovmagent.install.InstallStep.Chmod;
import io.istiovmagent.install.InstallStep.Chown;
import io.istiovmagent.install.InstallStep.CreateDirectory;
import io.istiovmagent.install.InstallStep.CreateEtcIstioLink;
import io.istiovmagent.install.InstallStep.RemoveFile;
import io.istiovmagent.install.InstallStep.ReplaceHostsBlock;
import io.istiovmagent.install.InstallStep.SaveLastKnownGood;
import io.istiovmagent.install.InstallStep.WriteFile;
import io.istiovmagent.testing.TestBundles;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The planner alone: observed state in, typed steps out, no disk at all. */
class InstallPlannerTest {
  private static final FileOwner PROXY = new FileOwner("istio-proxy", 4242, 4243);
  private static final String SOURCE = "https://plane.example/v1/bundle";
  private static final String LKG = "/var/lib/istio-vm-agent/last-known-good.json";
  private static final String TOKEN = Destination.TOKEN.path();
  private static final String FOREIGN = TestBundles.FOREIGN_HOSTS;
  private static final Map<BundleFile, byte[]> FILES = TestBundles.valid();
  private static final VerifiedBundle BUNDLE = verified(FILES);
  private static final byte[] NEW_TOKEN = TestBundles.valid(Duration.ofHours(2)).get(BundleFile.TOKEN);
  private static final VerifiedBundle NEW_TOKEN_BUNDLE = verified(with(FILES, BundleFile.TOKEN, NEW_TOKEN));
  private static final VerifiedBundle WITH_SIDECAR_ENV = verified(with(FILES, BundleFile.SIDECAR_ENV,
      "ISTIO_SVC_IP=10.0.0.3\n".getBytes(StandardCharsets.UTF_8)));

  /** One row: a name, the bundle, the hosts entries, the proxy user, the disk, and the steps expected. */
  record Case(String name, VerifiedBundle bundle, List<HostsEntry> hosts, Optional<FileOwner> proxy, DiskState disk,
      List<InstallStep> steps) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    List<HostsEntry> hosts = BUNDLE.hosts();
    List<HostsEntry> otherHosts = List.of(new HostsEntry("192.0.2.99", hosts.get(0).names()));
    String block = HostsBlock.apply(FOREIGN, hosts).text();
    return Stream.of(
        new Case("nothing to do", BUNDLE, hosts, Optional.of(PROXY), installed(BUNDLE, d -> d), List.of()),
        new Case("a changed token only", NEW_TOKEN_BUNDLE, hosts, Optional.of(PROXY), installed(BUNDLE, d -> d),
            List.of(save(NEW_TOKEN_BUNDLE, true), write(Destination.TOKEN, NEW_TOKEN, false, null))),
        new Case("mode drift on an unchanged token", BUNDLE, hosts, Optional.of(PROXY),
            installed(BUNDLE, d -> file(d, Destination.TOKEN, PROXY, "rw-r--r--")),
            List.of(new Chmod(TOKEN, Destination.TOKEN.mode()))),
        new Case("mode drift on root-cert.pem is pilot-agent's", BUNDLE, hosts, Optional.of(PROXY),
            installed(BUNDLE, d -> file(d, Destination.ROOT_CERT, PROXY, "rw-------")), List.of()),
        new Case("owner drift on a file and a directory", BUNDLE, hosts, Optional.of(PROXY),
            installed(BUNDLE, d -> {
              d = file(d, Destination.CLUSTER_ENV, FileOwner.ROOT, "rw-r--r--");
              d.directories.put("/etc/certs", new Directory(FileOwner.ROOT));
              return d;
            }),
            List.of(new Chown("/etc/certs", PROXY, true), new Chown(Destination.CLUSTER_ENV.path(), PROXY, false))),
        new Case("a planted link at the token", BUNDLE, hosts, Optional.of(PROXY),
            installed(BUNDLE, d -> {
              d.files.put(TOKEN, new Link("../../../etc/profile.d/zz-evil.sh"));
              return d;
            }),
            List.of(write(Destination.TOKEN, FILES.get(BundleFile.TOKEN), false,
                "../../../etc/profile.d/zz-evil.sh"))),
        new Case("sidecar.env gone from the new bundle", BUNDLE, hosts, Optional.of(PROXY),
            installed(WITH_SIDECAR_ENV, d -> d),
            List.of(save(BUNDLE, true),
                new RemoveFile(Destination.SIDECAR_ENV.path(), "the new bundle has no sidecar.env"))),
        new Case("hosts block to add", BUNDLE, hosts, Optional.of(PROXY),
            installed(BUNDLE, d -> hosts(d, FOREIGN)),
            List.of(new ReplaceHostsBlock(FOREIGN, block, List.of(), 1, false))),
        new Case("hosts block to replace", BUNDLE, otherHosts, Optional.of(PROXY),
            installed(BUNDLE, d -> d),
            List.of(new ReplaceHostsBlock(block, HostsBlock.apply(FOREIGN, otherHosts).text(), List.of(), 1, false))),
        new Case("hosts block to remove", BUNDLE, List.of(), Optional.of(PROXY), installed(BUNDLE, d -> d),
            List.of(new ReplaceHostsBlock(block, FOREIGN, List.of(), 0, false))),
        new Case("istio-proxy missing: root's files stay root's", BUNDLE, hosts, Optional.empty(),
            installed(BUNDLE, d -> file(d, Destination.MESH, FileOwner.ROOT, "rw-r--r--")), List.of()),
        new Case("istio-proxy missing on an empty disk", BUNDLE, hosts, Optional.empty(), empty(),
            fresh(FileOwner.ROOT, block)),
        new Case("an empty disk", BUNDLE, hosts, Optional.of(PROXY), empty(), fresh(PROXY, block)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void plansExactlyTheStepsTheDiskNeeds(Case c) {
    InstallPlan plan = InstallPlanner.plan(c.bundle(), c.hosts(), SOURCE, c.disk(), c.proxy());
    assertEquals(c.steps(), plan.steps());
    assertEquals(List.of(), plan.refusals());
    assertEquals(c.proxy().isEmpty(), plan.warnings().stream().anyMatch(w -> w.contains("istio-proxy does not exist")),
        plan.warnings().toString());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theReportOfTheAppliedPlanListsEveryManagedPathOnce(Case c) {
    InstallPlan plan = InstallPlanner.plan(c.bundle(), c.hosts(), SOURCE, c.disk(), c.proxy());
    InstallReport r = InstallReport.applied(plan, List.of());
    assertEquals(plan.isEmpty(), !r.changedAnything(), r.changes().toString());
    for (String path : List.of(LKG, TOKEN, Destination.CLUSTER_ENV.path(), Destination.HOSTS)) {
      assertEquals(1, r.changes().stream().filter(x -> x.path().equals(path)).count(), path + " in " + r.changes());
    }
    assertEquals(LKG, r.changes().get(0).path(), "the last-known-good comes first");
  }

  @Test
  void aPlantedLinkIsNamedInAWarning() {
    DiskState disk = installed(BUNDLE, d -> {
      d.files.put(TOKEN, new Link("elsewhere"));
      return d;
    });
    InstallPlan plan = InstallPlanner.plan(BUNDLE, BUNDLE.hosts(), SOURCE, disk, Optional.of(PROXY));
    assertTrue(plan.warnings().stream().anyMatch(w -> w.startsWith(TOKEN + " was a symbolic link (to elsewhere)")),
        plan.warnings().toString());
  }

  @Test
  void aRefusedPathIsPlannedAroundAndNamed() {
    DiskState disk = installed(BUNDLE, d -> {
      d.hosts = new Refused("/etc/hosts is a symbolic link: ...", true);
      return d;
    });
    InstallPlan plan = InstallPlanner.plan(NEW_TOKEN_BUNDLE, BUNDLE.hosts(), SOURCE, disk, Optional.of(PROXY));
    assertEquals(List.of(save(NEW_TOKEN_BUNDLE, true), write(Destination.TOKEN, NEW_TOKEN, false, null)),
        plan.steps());
    assertEquals(List.of(new InstallPlan.Refusal(Destination.HOSTS, "/etc/hosts is a symbolic link: ...", true)),
        plan.refusals());
  }

  @Test
  void anUnreadableLastKnownGoodIsReplacedWithAWarning() {
    DiskState disk = installed(BUNDLE, d -> {
      d.record = new DiskState.Unreadable("damaged");
      return d;
    });
    InstallPlan plan = InstallPlanner.plan(BUNDLE, BUNDLE.hosts(), SOURCE, disk, Optional.of(PROXY));
    assertEquals(List.of(save(BUNDLE, false)), plan.steps());
    assertTrue(plan.warnings().contains("the previous last-known-good could not be read and is replaced: damaged"));
  }

  /** Every step a fresh disk needs, in order: the last-known-good first, directories before files. */
  private static List<InstallStep> fresh(FileOwner owner, String block) {
    List<InstallStep> steps = new ArrayList<>();
    steps.add(save(BUNDLE, false));
    steps.add(new CreateDirectory("/var/lib/istio", owner));
    steps.add(new CreateEtcIstioLink());
    for (String d : Destination.DIRECTORIES) {
      if (!d.equals("/var/lib/istio")) {
        steps.add(new CreateDirectory(d, owner));
      }
    }
    BUNDLE.installContent().forEach((f, content) -> {
      Destination d = Destination.of(f).orElseThrow();
      steps.add(new WriteFile(d, content, owner, d.mode(), true, Optional.empty()));
    });
    steps.add(new ReplaceHostsBlock("", HostsBlock.apply("", BUNDLE.hosts()).text(), List.of(), 1, true));
    return steps;
  }

  private static SaveLastKnownGood save(VerifiedBundle b, boolean replaces) {
    return new SaveLastKnownGood(LKG, b.raw(), SOURCE, replaces);
  }

  private static WriteFile write(Destination d, byte[] content, boolean creates, String link) {
    return new WriteFile(d, content, PROXY, d.mode(), creates, Optional.ofNullable(link));
  }

  /** A disk under construction: mutable, so that a row changes one thing. */
  static final class Disk {
    final Map<String, Entry> files = new HashMap<>();
    final Map<String, Entry> directories = new HashMap<>();
    Entry etcIstio = new Link("/var/lib/istio");
    Entry hosts = new Absent();
    DiskState.StoredRecord record = new DiskState.NoRecord();

    DiskState build() {
      return new DiskState(files, directories, etcIstio, hosts, new DiskState.Stored(LKG, record));
    }
  }

  private static DiskState empty() {
    Disk d = new Disk();
    d.etcIstio = new Absent();
    return d.build();
  }

  /** The disk as an install of {@code b} by istio-proxy leaves it, then changed by {@code change}. */
  private static DiskState installed(VerifiedBundle b, UnaryOperator<Disk> change) {
    Disk d = new Disk();
    for (String dir : Destination.DIRECTORIES) {
      d.directories.put(dir, new Directory(PROXY));
    }
    b.installContent().forEach((f, content) -> {
      Destination dest = Destination.of(f).orElseThrow();
      d.files.put(dest.path(), new Regular(content, PROXY, dest.mode()));
    });
    d.hosts = regular(HostsBlock.apply(FOREIGN, b.hosts()).text());
    d.record = new DiskState.Record(new LastKnownGood.Record(b.raw(), SOURCE, TestBundles.NOW));
    return change.apply(d).build();
  }

  private static Disk file(Disk d, Destination dest, FileOwner owner, String mode) {
    Regular r = (Regular) d.files.get(dest.path());
    d.files.put(dest.path(), new Regular(r.content(), owner, PosixFilePermissions.fromString(mode)));
    return d;
  }

  private static Disk hosts(Disk d, String text) {
    d.hosts = regular(text);
    return d;
  }

  private static Regular regular(String text) {
    return new Regular(text.getBytes(StandardCharsets.ISO_8859_1), FileOwner.ROOT,
        PosixFilePermissions.fromString("rw-r--r--"));
  }

  private static Map<BundleFile, byte[]> with(Map<BundleFile, byte[]> files, BundleFile f, byte[] content) {
    Map<BundleFile, byte[]> out = new EnumMap<>(files);
    out.put(f, content);
    return out;
  }

  private static VerifiedBundle verified(Map<BundleFile, byte[]> files) {
    try {
      return new BundleVerifier(TestBundles.CLOCK, Set.of()).verify(TestBundles.raw(files));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
