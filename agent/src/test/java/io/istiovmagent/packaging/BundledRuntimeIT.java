package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.systemd.UnixDatagramReceiver;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import okio.Buffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The agent running from the unpacked package, on the Java runtime the package ships (jlinked with only some
 * modules): each check runs a code path that needs a module jdeps cannot see, or the package's own wiring. For
 * each architecture's package: arm64's runs here under qemu-user ({@link Emulation}), JNA's aarch64 library and
 * its libc calls included, 3 to 8 times slower than natively.
 */
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {"amd64", "arm64"})
class BundledRuntimeIT {
  /** Exactly what packaging/deb/build-deb jlinks; java.se's other modules would cost megabytes each. */
  private static final Set<String> MODULES = Set.of("java.base", "java.logging", "java.naming", "java.security.sasl",
      "jdk.crypto.ec", "jdk.unsupported");

  @Parameter
  String arch;
  private Path root;
  private Path launcher;

  @TempDir
  Path tmp;

  @BeforeEach
  void unpack() throws Exception {
    root = BuiltPackage.unpacked(arch);
    launcher = root.resolve("usr/bin/istio-vm-agent");
    if (!arch.equals(DebianImage.NATIVE)) {
      Emulation.assumeCanRun(arch);
    }
  }

  /** Runs the packaged launcher; JVM options extra to its own go through ISTIO_VM_AGENT_JAVA_OPTS. */
  private Cmd.Result agentWith(String javaOpts, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of(launcher.toString()));
    argv.addAll(List.of(args));
    // /tmp may be noexec on a VM: nothing may need it (JNA must not unpack its library there).
    return Cmd.run(argv, Map.of("ISTIO_VM_AGENT_JAVA_OPTS", "-Djava.io.tmpdir=/nonexistent " + javaOpts));
  }

  private Cmd.Result agent(String... args) throws Exception {
    return agentWith("", args);
  }

  @Test
  void theRuntimeHoldsExactlyTheChosenModules() throws Exception {
    Cmd.Result r = Cmd.run(List.of(root.resolve("usr/lib/istio-vm-agent/runtime/bin/java").toString(),
        "--list-modules"));
    assertEquals(0, r.code(), r.all());
    Set<String> modules = Set.copyOf(r.out().lines().map(l -> l.replaceFirst("@.*", "")).toList());
    assertEquals(MODULES, modules);
  }

  @Test
  void namesOnlyTheSecurityProvidersItHolds() throws Exception {
    // The full JDK's java.security names twelve; the JCA would look for the absent ones through ServiceLoader and
    // instantiate every provider on the class path (BouncyCastle's two) just to ask their names.
    List<String> providers = Files.readAllLines(root.resolve(
        "usr/lib/istio-vm-agent/runtime/conf/security/java.security")).stream()
        .filter(l -> l.matches("security\\.provider\\.\\d+=.*")).toList();
    assertEquals(List.of("security.provider.1=SUN", "security.provider.2=SunRsaSign", "security.provider.3=SunEC",
        "security.provider.4=SunJSSE", "security.provider.5=SunJCE", "security.provider.6=SunSASL",
        "security.provider.7=JdkLDAP"), providers);
  }

  @Test
  void theRuntimeRunsAsThePackagesArchitecture() throws Exception {
    // Java's os.arch is amd64 on x86-64 and aarch64 on arm64; under emulation the JVM sees an aarch64 machine.
    Cmd.Result r = Cmd.run(List.of(root.resolve("usr/lib/istio-vm-agent/runtime/bin/java").toString(),
        "-XshowSettings:properties", "-version"));
    assertEquals(0, r.code(), r.all());
    assertTrue(r.err().contains("os.arch = " + (arch.equals("arm64") ? "aarch64" : arch) + "\n"), r.err());
  }

  @Test
  void versionRunsOnTheBundledJava17() throws Exception {
    Cmd.Result r = agent("version");
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().matches("istio-vm-agent \\S+ \\(Java 17\\.\\S+\\)\\n"), r.out());
    String release = Files.readString(root.resolve("usr/lib/istio-vm-agent/runtime/release"));
    assertTrue(release.contains("JAVA_VERSION=\"17."), release);
  }

  @Test
  void verifiesASampleBundleAsDirectoryAndAsTarGz() throws Exception {
    Path dir = tmp.resolve("bundle");
    SampleBundle.write(dir, false);
    Cmd.Result r = agent("bundle", "verify", dir.toString());
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().startsWith("bundle OK: "), r.out());

    Path tar = tmp.resolve("bundle.tar.gz");
    SampleBundle.write(tar, true);
    Cmd.Result t = agent("bundle", "verify", tar.toString());
    assertEquals(0, t.code(), t.all());
  }

  @Test
  void fetchesOverTlsWithAnEcCertificate() throws Exception {
    // okhttp-tls makes ECDSA P-256 keys: the handshake needs the SunEC provider, module jdk.crypto.ec.
    HeldCertificate ca = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate server = new HeldCertificate.Builder().addSubjectAlternativeName("localhost").signedBy(ca).build();
    Path caFile = Files.writeString(tmp.resolve("ca.pem"), ca.certificatePem());
    Path tar = tmp.resolve("bundle.tar.gz");
    SampleBundle.write(tar, true);
    try (MockWebServer web = new MockWebServer()) {
      web.useHttps(new HandshakeCertificates.Builder().heldCertificate(server).build().sslSocketFactory());
      web.start(InetAddress.getByName("127.0.0.1"), 0);
      web.enqueue(new MockResponse.Builder().body(new Buffer().write(Files.readAllBytes(tar))).build());
      String url = "https://localhost:" + web.getPort() + "/v1/bundle/vm-namespace/hello-vm";
      Cmd.Result r = agent("bundle", "verify", url, "--ca-file", caFile.toString());
      assertEquals(0, r.code(), r.all());
      assertTrue(r.out().startsWith("bundle OK: " + url), r.out());
    }
  }

  @Test
  void onboardsFromTheOnboardingServiceAndTellsSystemdItIsReadyThroughJna() throws Exception {
    // The onboarding service (`istio-vm-onboarding serve`, on this build's JDK: the package has no server; a
    // generated EC P-256 certificate) hands out the bundle for a join token; the packaged daemon on its bundled
    // runtime fetches it over TLS, lays it out, reports its health, and says READY=1 over the notify socket through
    // JNA.
    Path bundles = tmp.resolve("bundles/vm-namespace/hello-vm");
    SampleBundle.write(bundles, false);
    Path tokens = Files.writeString(tmp.resolve("tokens.yaml"),
        "tokens:\n  - token: it-join-token\n    namespace: vm-namespace\n    group: hello-vm\n");
    Path joinToken = Files.writeString(tmp.resolve("join-token"), "it-join-token");
    for (Path secret : List.of(tokens, joinToken)) {
      Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    }
    Path cert = tmp.resolve("endpoint.pem");
    Process server = new ProcessBuilder(OnboardingService.command("serve", "--bundles",
        tmp.resolve("bundles").toString(), "--tokens", tokens.toString(), "--listen", "127.0.0.1:0", "--write-cert",
        cert.toString(), "--reports", tmp.resolve("reports.jsonl").toString()))
        .redirectErrorStream(true).redirectOutput(tmp.resolve("serve.log").toFile()).start();
    try {
      String base = awaitLog("serve.log", Pattern.compile("onboarding endpoint listening on (https://\\S+?)/?\\s"),
          server);
      String source = base + "/v1/bundle/vm-namespace/hello-vm";

      Path vm = Files.createDirectories(tmp.resolve("vm/etc/istio-vm-agent"));
      Files.writeString(tmp.resolve("vm/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
      Files.writeString(tmp.resolve("vm/etc/hosts"), "127.0.0.1 localhost\n");
      Files.writeString(vm.resolve("config.yaml"), "bundle:\n  source: " + source + "\n  caFile: " + cert
          + "\n  tokenFile: " + joinToken + "\nreport:\n  url: " + base + "/v1/health\n  interval: 5s\n"
          + "sidecar:\n  manage: false\n");
      Path socket = tmp.resolve("notify.sock");
      try (UnixDatagramReceiver systemd = UnixDatagramReceiver.atPath(socket)) {
        ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "--root", tmp.resolve("vm").toString(), "run")
            .redirectErrorStream(true).redirectOutput(tmp.resolve("run.log").toFile());
        pb.environment().put("NOTIFY_SOCKET", socket.toString());
        // JNA must find its library in the package: no temporary directory to unpack into, no system copy.
        pb.environment().put("ISTIO_VM_AGENT_JAVA_OPTS", "-Djava.io.tmpdir=/nonexistent -Djna.tmpdir=/nonexistent "
            + "-Xlog:class+load=info:file=" + tmp.resolve("run-classes.log"));
        Process daemon = pb.start();
        try {
          List<String> messages = new ArrayList<>();
          Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
          while (messages.stream().noneMatch(m -> m.contains("READY=1")) && Instant.now().isBefore(deadline)
              && daemon.isAlive()) {
            Optional<String> m = systemd.poll();
            if (m.isPresent()) {
              messages.add(m.get());
            } else {
              Thread.sleep(50);
            }
          }
          assertTrue(messages.stream().anyMatch(m -> m.contains("READY=1")),
              () -> "no READY=1; got " + messages + "\n" + log("run.log") + log("serve.log"));
          assertTrue(Files.isRegularFile(tmp.resolve("vm/var/run/secrets/tokens/istio-token")), log("run.log"));
          String cmdline = Files.readString(Path.of("/proc/" + daemon.pid() + "/cmdline")).replace('\0', ' ');
          if (!arch.equals(DebianImage.NATIVE)) {
            // binfmt_misc runs it as "INTERPRETER PROGRAM ARGV0 ARGS...": qemu, then what was exec'd.
            String interpreter = Emulation.interpreter(arch) + " ";
            assertTrue(cmdline.startsWith(interpreter), cmdline);
            cmdline = cmdline.substring(interpreter.length());
          }
          assertTrue(cmdline.startsWith(root.resolve("usr/lib/istio-vm-agent/runtime/bin/java").toString()),
              "the launcher exec'd the bundled java, so the JVM is the unit's main process: " + cmdline);
          assertTrue(cmdline.contains("-XX:+UseSerialGC") && cmdline.contains("-Xmx64m"), cmdline);
          awaitLog("reports.jsonl", Pattern.compile("(vm-namespace)"), daemon);
        } finally {
          daemon.destroy();
          assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "stops on SIGTERM");
        }
        assertEquals(143, daemon.exitValue(), log("run.log"));
        assertFalse(log("run.log").contains("jnidispatch"), log("run.log"));
        // What cost the daemon ~16 MB: BouncyCastle's JCA providers instantiated to ask their names (java.security
        // naming providers the runtime lacks), and its signed jars verified (build-deb ships them unsigned).
        String classes = log("run-classes.log");
        assertTrue(classes.contains("io.istiovmagent.daemon.AgentDaemon "), "the class log was written");
        assertFalse(classes.contains("org.bouncycastle.jce.provider.BouncyCastleProvider "), "BC provider loaded");
        assertFalse(classes.contains("java.util.jar.JarVerifier$VerifierStream "), "a signed jar was verified");
        assertFalse(log("run.log").contains("it-join-token"), "the join token is never logged");
      }
    } finally {
      server.destroy();
      assertTrue(server.waitFor(30, TimeUnit.SECONDS), "serve stops on SIGTERM");
    }
  }

  @Test
  void theClassDataArchiveIsMadeForTheInstalledFilesAndAcceptedByTheJvm() throws Exception {
    // What postinst does on the machine, here in the unpacked tree (an archive is valid only where it was made).
    Cmd.Result make = Cmd.run(List.of(root.resolve("usr/lib/istio-vm-agent/generate-cds-archive").toString()));
    assertEquals(0, make.code(), make.all());
    Path archive = root.resolve("var/cache/istio-vm-agent/istio-vm-agent.jsa");
    assertTrue(Files.size(archive) > 1_000_000, "archive " + Files.size(archive));
    try {
      // -Xshare:on makes the JVM fail instead of silently running without the archive.
      Cmd.Result r = agentWith("-Xshare:on -Xlog:class+load=info:file=" + tmp.resolve("classes.log"), "version");
      assertEquals(0, r.code(), r.all());
      String loaded = Files.readString(tmp.resolve("classes.log"), StandardCharsets.UTF_8);
      assertTrue(loaded.contains("io.istiovmagent.cli.Main source: shared objects file"),
          "the agent's own classes come from the archive");

      // The daemon too: the launcher gives it the archive (less memory than without, and a faster start).
      Files.createDirectories(tmp.resolve("cds-vm/etc"));
      ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "--root", tmp.resolve("cds-vm").toString(), "run")
          .redirectErrorStream(true).redirectOutput(tmp.resolve("cds-run.log").toFile());
      pb.environment().put("ISTIO_VM_AGENT_JAVA_OPTS", "-Xshare:on -Xlog:class+load=info:file="
          + tmp.resolve("run-classes.log"));
      Process daemon = pb.start();
      try {
        awaitLog("cds-run.log", Pattern.compile("(ready: waiting for configuration)"), daemon);
      } finally {
        daemon.destroy();
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "stops on SIGTERM");
      }
      String daemonLoaded = Files.readString(tmp.resolve("run-classes.log"), StandardCharsets.UTF_8);
      assertTrue(daemonLoaded.contains("io.istiovmagent.daemon.AgentDaemon source: shared objects file"),
          "the daemon's classes come from the archive:\n" + log("cds-run.log"));
    } finally {
      Cmd.Result rm = Cmd.run(List.of(root.resolve("usr/lib/istio-vm-agent/generate-cds-archive").toString(),
          "remove"));
      assertEquals(0, rm.code(), rm.all());
    }
    assertFalse(Files.exists(archive));
  }

  private String log(String name) {
    try {
      return Files.readString(tmp.resolve(name));
    } catch (IOException e) {
      return "(no " + name + ": " + e + ")";
    }
  }

  /** Waits until a file the process writes matches, and returns the first group. */
  private String awaitLog(String name, Pattern pattern, Process process) throws Exception {
    Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
    while (Instant.now().isBefore(deadline)) {
      Matcher m = pattern.matcher(log(name));
      if (m.find()) {
        return m.group(1);
      }
      if (!process.isAlive()) {
        break;
      }
      Thread.sleep(50);
    }
    throw new AssertionError(name + " never matched " + pattern + ":\n" + log(name));
  }
}
