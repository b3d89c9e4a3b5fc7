package io.istiovmagent.onboarding.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.istiovmagent.onboarding.kube.MeshOnMockApi;
import io.istiovmagent.sample.SampleBundle;
import io.istiovmagent.testing.Repo;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HandshakeCertificates;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The onboarding service's container image (packaging/image/build-image, made at {@code package}) run in a real OCI
 * runtime, crun, the way deploy/kubernetes/onboarding.yaml runs it: as the image's user (65532), on a read-only root
 * file system with a tmpfs on /tmp, without capabilities or privilege escalation. The OCI layout is unpacked into a
 * runtime bundle with umoci once; each test writes a config.json for its container (its arguments, its inputs bind
 * mounted under /data, the host's /etc/hosts as every runtime provides one) and runs {@code crun run} as a child
 * process. The containers keep the host's network namespace, so that the test reaches the service on 127.0.0.1.
 *
 * <p>Needs root, crun and umoci (dev/ensure-tools installs them), and fails, never skips, without them.
 */
class ImageIT {
  private static final Path TARGET = Repo.path("onboarding/target");
  private static final Path LAYOUT = TARGET.resolve("image/oci");
  private static final String HOME = "/opt/istio-vm-onboarding";
  /** The runtime's java, the JVM options of packaging/image/java-options in their order, the jar. */
  private static final List<String> ENTRYPOINT = entrypoint();
  private static final int NONROOT = 65532;
  /** How long a container may take for one step (a JVM's start on the image's runtime takes about a second). */
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final AtomicInteger CONTAINERS = new AtomicInteger();
  private static final Pattern LISTENING = Pattern.compile("onboarding endpoint listening on (https://\\S+?)/? ");
  private static final String TOKEN = "jt-image-it-7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";

  @TempDir
  static Path work;
  private static String version;
  private static Path bundle;
  /** config.json as umoci made it from the image's configuration. */
  private static ObjectNode unpacked;
  /**
   * crun refuses a host with hybrid cgroups (v1 controllers and a cgroup2 hierarchy at /sys/fs/cgroup/unified that
   * has controllers of its own), as some VMs and CI sandboxes are: there each crun command runs in a mount namespace
   * of its own where that hierarchy is unmounted, so that crun sees the v1 controllers only. The host is unchanged.
   */
  private static boolean hideCgroup2;

  @BeforeAll
  static void unpack() throws Exception {
    List<String> missing = Stream.of("crun", "umoci").filter(ImageIT::notOnPath).toList();
    if (!missing.isEmpty()) {
      fail("ImageIT runs the onboarding service's image in crun and unpacks it with umoci, and " + missing
          + " is missing: apt-get install crun umoci (dev/ensure-tools does)");
    }
    assertEquals(0, (int) Files.getAttribute(Path.of("/proc/self"), "unix:uid"),
        "ImageIT needs root: umoci unpacks the image with its owners, crun runs containers from the host's root");
    assertTrue(Files.isRegularFile(LAYOUT.resolve("index.json")), "no image in " + LAYOUT + ": `mvn package` builds "
        + "it (packaging/image/build-image); -Dimage.skip leaves it out, and then -DskipITs must leave ImageIT out");
    try (JarFile jar = new JarFile(TARGET.resolve("istio-vm-onboarding.jar").toFile())) {
      version = jar.getManifest().getMainAttributes().getValue("Implementation-Version");
    }
    Path controllers = Path.of("/sys/fs/cgroup/unified/cgroup.controllers");
    hideCgroup2 = !Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers")) && Files.isRegularFile(controllers)
        && !Files.readString(controllers).isBlank();
    bundle = work.resolve("bundle");
    Exec unpack = exec(List.of("umoci", "unpack", "--image", LAYOUT + ":" + version, bundle.toString()));
    assertEquals(0, unpack.code(), "umoci unpack: " + unpack.output());
    unpacked = (ObjectNode) JSON.readTree(bundle.resolve("config.json").toFile());
  }

  @Test
  void oneImageTaggedWithTheVersionAndLatestAndArchivedUnderItsName() throws Exception {
    JsonNode index = JSON.readTree(LAYOUT.resolve("index.json").toFile());
    Map<String, String> tags = new TreeMap<>();
    for (JsonNode m : index.get("manifests")) {
      tags.put(m.at("/annotations/org.opencontainers.image.ref.name").asText(), m.get("digest").asText());
    }
    assertEquals(Set.of(version, "latest"), tags.keySet());
    assertEquals(tags.get(version), tags.get("latest"), "one image, two tags");
    JsonNode manifest = blob(tags.get(version));
    assertEquals(1, manifest.get("layers").size(), "one layer: no base image");
    JsonNode config = blob(manifest.at("/config/digest").asText()).get("config");
    assertEquals(NONROOT + ":" + NONROOT, config.get("User").asText());
    assertEquals(ENTRYPOINT, strings(config.get("Entrypoint")));
    assertTrue(config.path("Cmd").isMissingNode() || config.get("Cmd").isNull(), "the arguments are the CLI's");
    assertEquals("/", config.get("WorkingDir").asText());
    assertEquals(List.of("PATH=" + HOME + "/runtime/bin"), strings(config.get("Env")), "nothing else, no secret");
    assertEquals(version, config.at("/Labels/org.opencontainers.image.version").asText());
    assertEquals("Apache-2.0", config.at("/Labels/org.opencontainers.image.licenses").asText(), "an SPDX expression");
    // The archive: the same image under the Kubernetes manifest's name, its one reference, as `podman load` takes it.
    Exec archived = exec(List.of("tar", "-xOf", TARGET.resolve("istio-vm-onboarding-image.tar").toString(),
        "index.json"));
    assertEquals(0, archived.code(), archived.output());
    JsonNode archivedIndex = JSON.readTree(archived.output());
    assertEquals(1, archivedIndex.get("manifests").size(), archived.output());
    assertEquals("istio-vm-onboarding:" + version,
        archivedIndex.at("/manifests/0/annotations/org.opencontainers.image.ref.name").asText());
    assertEquals(tags.get(version), archivedIndex.at("/manifests/0/digest").asText());
    // As umoci unpacks it for a runtime: the image's user and entrypoint.
    assertEquals(NONROOT, unpacked.at("/process/user/uid").asInt());
    assertEquals(NONROOT, unpacked.at("/process/user/gid").asInt());
    assertEquals(ENTRYPOINT, strings(unpacked.at("/process/args")));
  }

  @Test
  void helpExitsZeroWithTheUsage() throws Exception {
    try (Container c = new Container(List.of("--help"), Optional.empty())) {
      assertEquals(0, c.waitFor(), c.output());
      assertTrue(c.output().contains("istio-vm-onboarding") && c.output().contains("serve"), c.output());
    }
  }

  @Test
  void servesABundleOverHttpsAsNonrootOnAReadOnlyRoot() throws Exception {
    Path data = Files.createDirectories(work.resolve("serve"));
    SampleBundle.write(data.resolve("bundles/vm-namespace/hello-vm"), false);
    Path tokens = Files.writeString(data.resolve("tokens.yaml"),
        "tokens:\n  - token: " + TOKEN + "\n    namespace: vm-namespace\n    group: hello-vm\n");
    Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
    giveToNonroot(data);
    // Port 0: the kernel picks a free port when the service binds, and the service logs its URL; no port probed
    // free beforehand that another process could take in between.
    try (Container c = new Container(List.of("serve", "--bundles", "/data/bundles", "--tokens", "/data/tokens.yaml",
        "--listen", "127.0.0.1:0", "--write-cert", "/data/cert.pem"), Optional.of(data))) {
      String url = c.awaitOutput(LISTENING).group(1);
      X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(data.resolve("cert.pem"))));
      HandshakeCertificates trust = new HandshakeCertificates.Builder().addTrustedCertificate(cert).build();
      OkHttpClient client = new OkHttpClient.Builder()
          .sslSocketFactory(trust.sslSocketFactory(), trust.trustManager())
          .retryOnConnectionFailure(false).callTimeout(10, TimeUnit.SECONDS).build();

      long deadline = System.nanoTime() + DEADLINE.toNanos();
      int health = 0;
      while (health != 200) {
        try (Response r = client.newCall(new Request.Builder().url(url + "/healthz").build()).execute()) {
          health = r.code();
          String body = r.body().string();
          assertTrue(health != 200 || body.contains("\"serving\""), "healthz: " + body);
        } catch (IOException notYet) {
          c.assertRunning();
        }
        if (health != 200) {
          assertTrue(System.nanoTime() < deadline, "no 200 from " + url + "/healthz (last " + health + "): "
              + c.output());
          Thread.sleep(20);
        }
      }
      try (Response r = client.newCall(new Request.Builder().url(url + "/v1/bundle/vm-namespace/hello-vm")
          .header("Authorization", "Bearer " + TOKEN).build()).execute()) {
        byte[] body = r.body().bytes();
        assertEquals(200, r.code(), new String(body, StandardCharsets.UTF_8));
        assertEquals("application/gzip", r.header("Content-Type"));
        assertTrue(body.length > 2 && (body[0] & 0xff) == 0x1f && (body[1] & 0xff) == 0x8b, "a gzip body");
      }

      // What the container's process is, seen from the host: the image's java as 65532, nothing more.
      long pid = c.pid();
      assertEquals(ENTRYPOINT.get(0), Files.readString(Path.of("/proc/" + pid + "/cmdline")).split("\0")[0]);
      Map<String, String> status = procStatus(pid);
      assertEquals(List.of("65532", "65532", "65532", "65532"), Arrays.asList(status.get("Uid").split("\\s+")));
      assertEquals(List.of("65532", "65532", "65532", "65532"), Arrays.asList(status.get("Gid").split("\\s+")));
      assertEquals("0000000000000000", status.get("CapEff"), "no capabilities");
      assertEquals("1", status.get("NoNewPrivs"));
      // Its root file system read-only, as readOnlyRootFilesystem makes it, and /tmp a writable tmpfs.
      Map<String, String[]> mounts = mountInfo(pid);
      assertTrue(List.of(mounts.get("/")[0].split(",")).contains("ro"), "/ is " + mounts.get("/")[0]);
      assertEquals("tmpfs", mounts.get("/tmp")[1]);
      assertTrue(List.of(mounts.get("/tmp")[0].split(",")).contains("rw"), "/tmp is " + mounts.get("/tmp")[0]);
    }
  }

  /**
   * The Kubernetes mode's client (fabric8 on the JDK's HttpClient, found through ServiceLoader, which jdeps cannot
   * see) works on the image's runtime: a join token created through the API server over TLS.
   */
  @Test
  void theKubernetesClientReachesTheApiServer() throws Exception {
    try (MeshOnMockApi mesh = MeshOnMockApi.startInRealTime()) {
      Path data = Files.createDirectories(work.resolve("kube"));
      mesh.kubeconfig(data);
      giveToNonroot(data);
      try (Container c = new Container(List.of("token", "create", "-n", "bar", "--group", "foo", "--kubeconfig",
          "/data/kubeconfig"), Optional.of(data))) {
        assertEquals(0, c.waitFor(), c.output());
        assertTrue(c.output().lines().anyMatch(l -> l.matches("[a-z0-9]{6}\\.[a-z0-9]{26}")), c.output());
      }
    }
  }

  /** One container: its config.json written from umoci's, {@code crun run} as a child, its output in a file. */
  private static final class Container implements AutoCloseable {
    final String id = "istio-vm-imageit-" + ProcessHandle.current().pid() + "-" + CONTAINERS.incrementAndGet();
    final Path log = work.resolve(id + ".log");
    final Process process;

    Container(List<String> args, Optional<Path> data) throws IOException {
      ObjectNode config = unpacked.deepCopy();
      ObjectNode process = (ObjectNode) config.get("process");
      process.put("terminal", false);
      ArrayNode argv = process.putArray("args");
      Stream.concat(ENTRYPOINT.stream(), args.stream()).forEach(argv::add);
      process.put("noNewPrivileges", true); // allowPrivilegeEscalation: false
      ObjectNode caps = (ObjectNode) process.get("capabilities"); // drop: [ALL]
      for (String set : List.of("bounding", "effective", "inheritable", "permitted", "ambient")) {
        caps.putArray(set);
      }
      ((ObjectNode) config.get("root")).put("readonly", true); // readOnlyRootFilesystem: true
      ArrayNode namespaces = (ArrayNode) config.at("/linux/namespaces");
      for (int i = namespaces.size() - 1; i >= 0; i--) {
        if (namespaces.get(i).get("type").asText().equals("network")) {
          namespaces.remove(i); // the host's network: the test reaches the service on 127.0.0.1
        }
      }
      ArrayNode mounts = (ArrayNode) config.get("mounts");
      mount(mounts, "/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777", "size=65536k"); // the emptyDir
      mount(mounts, "/etc/hosts", "bind", "/etc/hosts", "rbind", "ro");
      data.ifPresent(d -> mount(mounts, "/data", "bind", d.toString(), "rbind", "rw"));
      Path file = work.resolve(id + ".json");
      JSON.writeValue(file.toFile(), config);
      this.process = new ProcessBuilder(crun("run", "--bundle", bundle.toString(), "--config", file.toString(), id))
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static void mount(ArrayNode mounts, String destination, String type, String source, String... options) {
      ObjectNode m = mounts.addObject().put("destination", destination).put("type", type).put("source", source);
      Arrays.stream(options).forEach(m.putArray("options")::add);
    }

    String output() throws IOException {
      return Files.readString(log);
    }

    int waitFor() throws Exception {
      if (!process.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        fail("the container " + id + " did not exit within " + DEADLINE + ": " + output());
      }
      return process.exitValue();
    }

    void assertRunning() throws IOException {
      if (!process.isAlive()) {
        fail("the container " + id + " exited with " + process.exitValue() + ": " + output());
      }
    }

    /** Polls the container's output until the pattern matches; fails if the container exits or time runs out. */
    Matcher awaitOutput(Pattern pattern) throws Exception {
      long deadline = System.nanoTime() + DEADLINE.toNanos();
      while (true) {
        Matcher m = pattern.matcher(output());
        if (m.find()) {
          return m;
        }
        assertRunning();
        assertTrue(System.nanoTime() < deadline, "no '" + pattern + "' from the container " + id + " within "
            + DEADLINE + ": " + output());
        Thread.sleep(20);
      }
    }

    /** The container's process, as the host sees it (crun state). */
    long pid() throws Exception {
      Exec state = exec(crun("state", id));
      assertEquals(0, state.code(), "crun state " + id + ": " + state.output());
      JsonNode json = JSON.readTree(state.output());
      assertEquals("running", json.get("status").asText(), state.output());
      return json.get("pid").asLong();
    }

    @Override
    public void close() throws Exception {
      try {
        exec(crun("kill", id, "KILL")); // fails harmlessly when the container has exited
        if (!process.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly();
        }
      } finally {
        exec(crun("delete", "-f", id)); // `crun run` deletes it when it ends; this is for when it did not
      }
    }
  }

  private static List<String> crun(String... args) {
    List<String> cmd = new ArrayList<>();
    if (hideCgroup2) {
      cmd.addAll(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
          "umount /sys/fs/cgroup/unified && exec crun \"$@\"", "crun"));
    } else {
      cmd.add("crun");
    }
    cmd.addAll(List.of(args));
    return cmd;
  }

  private record Exec(int code, String output) {}

  private static Exec exec(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes(); // to its end: when the command exits
    if (!p.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      fail(cmd + " did not exit within " + DEADLINE);
    }
    return new Exec(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  private static boolean notOnPath(String tool) {
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
        .noneMatch(dir -> !dir.isEmpty() && Files.isExecutable(Path.of(dir, tool)));
  }

  /** The files the container reads and writes belong to its user, as a volume's would (fsGroup). */
  private static void giveToNonroot(Path dir) throws IOException {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        Files.setAttribute(p, "unix:uid", NONROOT);
        Files.setAttribute(p, "unix:gid", NONROOT);
      }
    }
  }

  private static JsonNode blob(String digest) throws IOException {
    return JSON.readTree(LAYOUT.resolve("blobs/sha256/" + digest.substring("sha256:".length())).toFile());
  }

  private static List<String> strings(JsonNode array) {
    List<String> list = new ArrayList<>();
    array.forEach(n -> list.add(n.asText()));
    return list;
  }

  private static Map<String, String> procStatus(long pid) throws IOException {
    Map<String, String> fields = new TreeMap<>();
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      int colon = line.indexOf(':');
      fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
    }
    return fields;
  }

  /** Mount point to {options, file system type}, from /proc/PID/mountinfo (the process's own mount namespace). */
  private static Map<String, String[]> mountInfo(long pid) throws IOException {
    Map<String, String[]> mounts = new TreeMap<>();
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/mountinfo"))) {
      String[] f = line.split(" ");
      int dash = List.of(f).indexOf("-");
      mounts.put(f[4], new String[] {f[5], f[dash + 1]}); // the last mount on a point is the one seen
    }
    return mounts;
  }

  private static List<String> entrypoint() {
    try {
      List<String> e = new ArrayList<>(List.of(HOME + "/runtime/bin/java"));
      Files.readAllLines(Repo.path("packaging/image/java-options")).stream()
          .filter(l -> !l.isBlank() && !l.startsWith("#")).forEach(e::add);
      e.addAll(List.of("-jar", HOME + "/istio-vm-onboarding.jar"));
      return List.copyOf(e);
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }
}
