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
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A bare Debian 12 (minbase) with systemd and without Java, made with debootstrap (amd64) or mmdebstrap (arm64,
 * under qemu-user: see {@link Emulation}) and kept between runs: what a cloud VM of ours looks like before
 * istio-vm-agent is installed. It holds cloud-init (every cloud image does; a container that should not run it gets
 * {@code /etc/cloud/cloud-init.disabled}), curl for the cloud-init example, busybox for the stand-in sidecar's HTTP
 * server, and locales with en_US.UTF-8, which cloud-init's locale module sets.
 *
 * <p>The cache lives in {@code /var/cache/istio-vm-agent-systest} (or {@code $ISTIO_VM_AGENT_SYSTEST_CACHE}), one
 * directory per architecture and recipe, named by a digest of the recipe: changing {@link #PACKAGES} makes a new one
 * and removes the old one of that architecture. It is built under a temporary name and renamed when complete, so
 * an interrupted build is never used. Containers boot from copies ({@link #copyTo}), never from the cache itself.
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
  /** Bump when the steps after mmdebstrap of an emulated (arm64) image change. */
  private static final int EMULATED_RECIPE = 1;
  /** The build machine's architecture: its image is made with debootstrap, the others with mmdebstrap. */
  static final String NATIVE = "amd64";
  private static final String MIRROR = System.getenv().getOrDefault("ISTIO_VM_AGENT_SYSTEST_MIRROR",
      "http://deb.debian.org/debian");
  private static final Path CACHE = Path.of(System.getenv().getOrDefault("ISTIO_VM_AGENT_SYSTEST_CACHE",
      "/var/cache/istio-vm-agent-systest"));

  private DebianImage() {}

  /** The cached amd64 image, built first if there is none for this recipe (about a minute). */
  static Path cached() throws IOException, InterruptedException {
    return cached(NATIVE);
  }

  /**
   * The cached image of an architecture, built first if there is none for this recipe: about a minute for amd64,
   * about 8 minutes for arm64 (every program of the installation runs under qemu-user).
   */
  static synchronized Path cached(String arch) throws IOException, InterruptedException {
    Path image = CACHE.resolve(prefix(arch) + recipeDigest(arch));
    if (Files.isDirectory(image)) {
      return image;
    }
    Files.createDirectories(CACHE);
    removeOtherRecipes(arch, image);
    Path building = CACHE.resolve(image.getFileName() + ".building-" + ProcessHandle.current().pid());
    remove(building);
    long start = System.nanoTime();
    if (arch.equals(NATIVE)) {
      bootstrap(building);
    } else {
      bootstrapEmulated(arch, building);
    }
    // As in Debian's cloud images, en_US.UTF-8 exists: cloud-init's locale module sets it, and fails without it.
    inChroot(building, "sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen");
    // Each container gets a machine-id of its own (SystemIT writes one); a copied one would make two VMs one.
    Files.writeString(building.resolve("etc/machine-id"), "");
    Files.deleteIfExists(building.resolve("var/lib/dbus/machine-id"));
    assertFalse(Files.exists(building.resolve("usr/bin/java")) || Files.exists(building.resolve("usr/lib/jvm")),
        "the image must hold no Java: the package has to bring its own");
    Files.move(building, image, StandardCopyOption.ATOMIC_MOVE);
    System.out.printf("built the Debian 12 %s image %s in %d s%n", arch, image,
        (System.nanoTime() - start) / 1_000_000_000);
    return image;
  }

  private static void bootstrap(Path building) throws IOException, InterruptedException {
    Cmd.Result r = Cmd.run(List.of(Cmd.require("debootstrap", "debootstrap"), "--variant=minbase",
        "--include=" + String.join(",", PACKAGES), SUITE, building.toString(), MIRROR), Map.of(),
        Duration.ofMinutes(10));
    assertEquals(0, r.code(), "debootstrap of Debian 12 from " + MIRROR + " failed (set ISTIO_VM_AGENT_SYSTEST_MIRROR "
        + "for another mirror):\n" + tail(r.all()));
    inChroot(building, "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
        + String.join(" ", APT_PACKAGES) + " && apt-get clean && rm -rf /var/lib/apt/lists/*");
  }

  /**
   * Another architecture's image, in one pass of mmdebstrap: its apt resolves the virtual packages debootstrap
   * cannot, and under emulation it is about twice as fast as debootstrap and then apt-get (8 minutes, not 15).
   * usr-is-merged, as debootstrap has it, instead of the usrmerge package (and the perl it drags in).
   */
  private static void bootstrapEmulated(String arch, Path building) throws IOException, InterruptedException {
    Emulation.assumeCanRun(arch);
    List<String> include = new ArrayList<>(PACKAGES);
    include.addAll(APT_PACKAGES);
    include.add("usr-is-merged");
    Cmd.Result r = Cmd.run(List.of(Cmd.require("mmdebstrap", "mmdebstrap"), "--architectures=" + arch,
        "--variant=minbase", "--include=" + String.join(",", include), SUITE, building.toString(), MIRROR),
        Map.of("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), Duration.ofMinutes(30));
    assertEquals(0, r.code(), "mmdebstrap of Debian 12 " + arch + " from " + MIRROR + " failed (it needs arch-test "
        + "and qemu-user-static: dev/ensure-tools):\n" + tail(r.all()));
    dropCredentials(building);
  }

  /**
   * systemd loads a unit's credentials (LoadCredential=, ImportCredential=) in a mount namespace made with clone(),
   * and qemu-user refuses clone() with namespace flags: those units fail (243/CREDENTIALS) and the boot ends
   * degraded, with no systemd-tmpfiles-setup. An emulated image gets copies of them without credentials in
   * /etc/systemd/system (sysusers and tmpfiles read none in this image).
   */
  static void dropCredentials(Path rootfs) throws IOException {
    Path units = rootfs.resolve("usr/lib/systemd/system");
    try (DirectoryStream<Path> s = Files.newDirectoryStream(units, "*.service")) {
      for (Path unit : s) {
        List<String> lines = Files.readAllLines(unit);
        List<String> kept = lines.stream()
            .filter(l -> !l.matches("(LoadCredential|ImportCredential|ConditionCredential|SetCredential)=.*"))
            .toList();
        if (kept.size() != lines.size()) {
          Files.write(rootfs.resolve("etc/systemd/system").resolve(unit.getFileName()), kept);
        }
      }
    }
  }

  /** A copy of the cached amd64 image at {@code dir} for one container to boot from and dirty. */
  static Path copyTo(Path dir) throws IOException, InterruptedException {
    return copyTo(NATIVE, dir);
  }

  /** A copy of the cached image of an architecture at {@code dir}. */
  static Path copyTo(String arch, Path dir) throws IOException, InterruptedException {
    Path image = cached(arch);
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

  /** debian12-DIGEST for amd64 (as before there were others), debian12-ARCH-DIGEST for the others. */
  private static String prefix(String arch) {
    return arch.equals(NATIVE) ? "debian12-" : "debian12-" + arch + "-";
  }

  /** Removes this architecture's images of other recipes (and interrupted builds), not other architectures'. */
  private static void removeOtherRecipes(String arch, Path keep) throws IOException, InterruptedException {
    try (DirectoryStream<Path> s = Files.newDirectoryStream(CACHE, prefix(arch) + "*")) {
      for (Path p : s) {
        String digest = p.getFileName().toString().substring(prefix(arch).length());
        if (!p.equals(keep) && digest.matches("[0-9a-f]{12}(\\.building-\\d+)?")) {
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

  private static String recipeDigest(String arch) {
    // amd64's recipe text is what it was before there were other architectures: its cached image stays valid.
    String recipe = SUITE + " " + PACKAGES + " " + APT_PACKAGES + " " + RECIPE + " " + MIRROR
        + (arch.equals(NATIVE) ? "" : " " + arch + " mmdebstrap " + EMULATED_RECIPE);
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(recipe.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static String tail(String s) {
    return s.length() <= 4000 ? s : "..." + s.substring(s.length() - 4000);
  }
}
