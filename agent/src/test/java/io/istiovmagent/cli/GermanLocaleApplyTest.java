package io.istiovmagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.install.HostsBlock;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.TestBundles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `apply` in the unit's shape under a German locale (issue 12): /etc read-only (ProtectSystem=strict), /etc/hosts
 * and /etc/certs writable bind mounts (ReadWritePaths=), in a private mount namespace; the CLI in a child JVM with
 * LANG=de_DE.UTF-8, so the JVM's error texts are German ("Das Dateisystem ist nur lesbar"). The hosts block must be
 * written in place: the decision to do so must not read those texts.
 */
class GermanLocaleApplyTest {
  private static final String LOCALE = "de_DE.UTF-8";

  @TempDir
  Path tmp;

  @Test
  void applyWritesTheHostsBlockInPlaceUnderAReadOnlyEtcInGerman() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "needs root: unshare -m and mount (CAP_SYS_ADMIN); CI runs as root");
    for (String tool : List.of("unshare", "mount", "localedef", "touch")) {
      assertEquals(0, run(List.of("sh", "-c", "command -v " + tool)).code(),
          tool + " is missing (util-linux, mount, libc-bin, coreutils): dev/ensure-tools installs them");
    }
    assertTrue(Files.exists(Path.of("/usr/share/i18n/locales/de_DE")),
        "the de_DE locale source is missing: install the Debian package `locales` (dev/ensure-tools does)");
    assertTrue(Files.exists(Path.of("/usr/share/locale/de/LC_MESSAGES/libc.mo")),
        "glibc's German messages are missing: install the Debian package `libc-l10n` (`locales` pulls it in)");
    // A private locale directory (LOCPATH): the test leaves the machine's locale archive as it was.
    Path locales = Files.createDirectories(tmp.resolve("locales"));
    Result def = run(List.of("localedef", "-i", "de_DE", "-f", "UTF-8", locales.resolve(LOCALE).toString()));
    assertTrue(def.code() == 0 || def.code() == 1 && Files.isDirectory(locales.resolve(LOCALE)),
        "localedef could not build " + LOCALE + ": " + def.out());

    Path root = TestBundles.newRoot(tmp.resolve("root"), true);
    Files.createDirectories(root.resolve("var/lib/istio"));
    Files.createSymbolicLink(root.resolve("etc/istio"), Path.of("/var/lib/istio"));
    Files.createDirectories(root.resolve("etc/certs"));
    Path hosts = root.resolve("etc/hosts");
    long inode = (Long) Files.getAttribute(hosts, "unix:ino");
    Path source = Files.createDirectories(tmp.resolve("bundle"));
    for (Map.Entry<BundleFile, byte[]> e : SampleBundle.generate(SampleBundle.Spec.defaults(), Instant.now())
        .entrySet()) {
      Files.write(source.resolve(e.getKey().fileName()), e.getValue());
    }

    String r = root.toString();
    String script = String.join("\n",
        "set -e",
        "mount --bind \"$R/etc/hosts\" \"$R/etc/hosts\"",
        "mount --bind \"$R/etc/certs\" \"$R/etc/certs\"",
        "mount --rbind \"$R/etc\" \"$R/etc\"",
        "mount -o remount,bind,ro \"$R/etc\"",
        // The shape and the language are what they should be, or the test proves nothing.
        "if msg=$(touch \"$R/etc/probe\" 2>&1); then echo '/etc is writable'; exit 90; fi",
        "case \"$msg\" in *'nur lesbar'*) ;; *) echo \"not German: $msg\"; exit 91;; esac",
        "exec \"$JAVA\" -cp \"$CP\" io.istiovmagent.cli.Main --root \"$R\" apply \"$SRC\"");
    ProcessBuilder pb = new ProcessBuilder("unshare", "-m", "--propagation", "private", "sh", "-c", script);
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("LC_"));
    env.put("LANG", LOCALE);
    env.put("LC_ALL", LOCALE);
    env.put("LOCPATH", locales.toString());
    env.put("R", r);
    env.put("SRC", source.toString());
    env.put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
    env.put("CP", System.getProperty("java.class.path"));
    Result apply = run(pb);

    assertEquals(0, apply.code(), apply.out());
    assertTrue(apply.out().contains("rewritten in place"), apply.out());
    String text = Files.readString(hosts);
    assertTrue(text.startsWith(TestBundles.FOREIGN_HOSTS) && text.contains(HostsBlock.BEGIN), text);
    assertEquals(inode, (Long) Files.getAttribute(hosts, "unix:ino"), "the same /etc/hosts, written in place");
    assertTrue(Files.isRegularFile(root.resolve("var/lib/istio/envoy/cluster.env")), apply.out());
  }

  private record Result(int code, String out) {}

  private static Result run(List<String> cmd) throws Exception {
    return run(new ProcessBuilder(new ArrayList<>(cmd)));
  }

  private static Result run(ProcessBuilder pb) throws Exception {
    Process p = pb.redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Result(p.waitFor(), out);
  }
}
