package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A bare Debian 12 (minbase) with systemd and without Java, made with debootstrap and kept between runs: what a
 * cloud VM of ours looks like before istio-vm-agent is installed. It holds cloud-init (every cloud image does; a
 * container that should not run it gets {@code /etc/cloud/cloud-init.disabled}), curl for the cloud-init example,
 * busybox for the stand-in sidecar's HTTP server, and locales with en_US.UTF-8, which cloud-init's locale module
 * sets.
 *
 * <p>The cache lives in {@code /var/cache/istio-vm-agent-systest} (or {@code $ISTIO_VM_AGENT_SYSTEST_CACHE}), one
 * directory per recipe, named by a digest of the recipe: changing {@link #PACKAGES} makes a new one and removes the
 * old. It is built under a temporary name and renamed when complete, so an interrupted build is never used.
 * Containers boot from copies ({@link #copyTo}), never from the cache itself.
 */
final class DebianImage {
  static final String SUITE = "bookworm";
  static final List<String> PACKAGES = List.of("systemd", "systemd-sysv", "dbus", "busybox", "iproute2", "procps",
      "locales");
  /**
   * Installed with apt in the new image: debootstrap's own resolver does not follow virtual packages, and
   * cloud-init's python3-cryptography needs one (python3-cffi-backend-api-min).
   */
  static final List<String> APT_PACKAGES = List.of("cloud-init", "curl", "ca-certificates");
  /** Bump when the steps after debootstrap change. */
  private static final int RECIPE = 2;
  private static final String MIRROR = System.getenv().getOrDefault("ISTIO_VM_AGENT_SYSTEST_MIRROR",
      "http://deb.debian.org/debian");
  private static final Path CACHE = Path.of(System.getenv().getOrDefault("ISTIO_VM_AGENT_SYSTEST_CACHE",
      "/var/cache/istio-vm-agent-systest"));

  private DebianImage() {}

  /** The cached image, built first if there is none for this recipe (about a minute). */
  static synchronized Path cached() throws IOException, InterruptedException {
    Path image = CACHE.resolve("debian12-" + recipeDigest());
    if (Files.isDirectory(image)) {
      return image;
    }
    Files.createDirectories(CACHE);
    removeOtherRecipes(image);
    Path building = CACHE.resolve(image.getFileName() + ".building-" + ProcessHandle.current().pid());
    remove(building);
    long start = System.nanoTime();
    Cmd.Result r = Cmd.run(List.of(Cmd.require("debootstrap", "debootstrap"), "--variant=minbase",
        "--include=" + String.join(",", PACKAGES), SUITE, building.toString(), MIRROR), Map.of(),
        Duration.ofMinutes(10));
    assertEquals(0, r.code(), "debootstrap of Debian 12 from " + MIRROR + " failed (set ISTIO_VM_AGENT_SYSTEST_MIRROR "
        + "for another mirror):\n" + tail(r.all()));
    inChroot(building, "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
        + String.join(" ", APT_PACKAGES) + " && apt-get clean && rm -rf /var/lib/apt/lists/*");
    // As in Debian's cloud images, en_US.UTF-8 exists: cloud-init's locale module sets it, and fails without it.
    inChroot(building, "sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen");
    // Each container gets a machine-id of its own (SystemIT writes one); a copied one would make two VMs one.
    Files.writeString(building.resolve("etc/machine-id"), "");
    Files.deleteIfExists(building.resolve("var/lib/dbus/machine-id"));
    assertFalse(Files.exists(building.resolve("usr/bin/java")) || Files.exists(building.resolve("usr/lib/jvm")),
        "the image must hold no Java: the package has to bring its own");
    Files.move(building, image, StandardCopyOption.ATOMIC_MOVE);
    System.out.printf("built the Debian 12 image %s in %d s%n", image, (System.nanoTime() - start) / 1_000_000_000);
    return image;
  }

  /** A copy of the cached image at {@code dir} for one container to boot from and dirty. */
  static Path copyTo(Path dir) throws IOException, InterruptedException {
    Path image = cached();
    Cmd.Result r = Cmd.run(List.of("cp", "-a", "--reflink=auto", image.toString(), dir.toString()));
    assertEquals(0, r.code(), r.all());
    return dir;
  }

  /** Runs a shell command in the (not booted) image, as root: for preparing a copy before it boots. */
  static String inChroot(Path rootfs, String script) throws IOException, InterruptedException {
    Cmd.Result r = Cmd.run(List.of("chroot", rootfs.toString(), "/bin/sh", "-euc", script),
        Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", "LANG", "C.UTF-8", "DEBIAN_FRONTEND", "noninteractive"));
    assertEquals(0, r.code(), "in " + rootfs + ": " + script + "\n" + r.all());
    return r.out();
  }

  private static void removeOtherRecipes(Path keep) throws IOException, InterruptedException {
    try (DirectoryStream<Path> s = Files.newDirectoryStream(CACHE, "debian12-*")) {
      for (Path p : s) {
        if (!p.equals(keep)) {
          remove(p);
        }
      }
    }
  }

  /** rm -rf: a root file system holds device nodes and a few hundred MB; rm is the tool for it. */
  static void remove(Path dir) throws IOException, InterruptedException {
    Cmd.Result r = Cmd.run(List.of("rm", "-rf", "--one-file-system", dir.toString()));
    assertEquals(0, r.code(), r.all());
  }

  private static String recipeDigest() {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest((SUITE + " " + PACKAGES + " " + APT_PACKAGES + " " + RECIPE + " " + MIRROR)
          .getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static String tail(String s) {
    return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
  }
}
