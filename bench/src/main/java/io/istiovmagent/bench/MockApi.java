package io.istiovmagent.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.istiovmagent.onboarding.kube.KubernetesMode;
import io.istiovmagent.onboarding.kube.MeshOnMockApi;
import io.istiovmagent.util.Log;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * P7's API server, a JVM of its own: fabric8's mock in CRUD mode with the mesh of onboarding's tests
 * ({@link MeshOnMockApi#istioctlCase()}: the WorkloadGroup bar/foo, Istio's ConfigMaps, the gateway, the root
 * certificate, TokenRequests minting real-looking tokens), every request counted ({@link ApiCounter}). It writes into
 * the work directory {@code kubeconfig} (for {@code serve --kubernetes}), {@code join-token} (one join token for the
 * whole fleet, made as {@code istio-vm-onboarding token create [--uses N]} makes it), {@code api.log}, and
 * {@code api-ready} last. On {@code census-request} it lists the WorkloadEntries and writes their {@code Healthy}
 * conditions, counted, to {@code census}. Runs until SIGTERM.
 *
 * <p>Usage: {@code MockApi WORK_DIR USES}, USES 0 for a token without a use limit.
 */
public final class MockApi {
  /** Held: java.util.logging keeps loggers weakly, and a collected one forgets its level. */
  private static final Logger QUIET = Logger.getLogger("io.fabric8.mockwebserver");

  private MockApi() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int uses = Integer.parseInt(args[1]);
    // The mock logs every request and its answer at INFO: at fleet scale, most of its time.
    QUIET.setLevel(Level.WARNING);
    ApiCounter[] counter = new ApiCounter[1];
    MeshOnMockApi mesh = MeshOnMockApi.startInRealTime(d -> counter[0] = new ApiCounter(d, work.resolve("api.log")))
        .istioctlCase();
    Thread drain = new Thread(() -> {
      try {
        while (true) {
          mesh.server().takeRequest(); // the mock keeps every request for tests: a long run must let go of them
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "drain-requests");
    drain.setDaemon(true);
    drain.start();

    Path kubeconfig = mesh.kubeconfig(work);
    Log log = new Log(new PrintStream(System.err, true, StandardCharsets.UTF_8), false);
    String token = KubernetesMode.credentials(Optional.of(kubeconfig), Optional.empty(), Clock.systemUTC(), log)
        .createJoinToken("bar", "foo", Duration.ofDays(1), uses > 0 ? OptionalInt.of(uses) : OptionalInt.empty(),
            "the fleet benchmark (P7)");
    Path tokenFile = work.resolve("join-token");
    Files.createFile(tokenFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tokenFile, token + "\n", StandardCharsets.US_ASCII);
    Files.writeString(work.resolve("api-ready"), ProcessHandle.current().pid() + "\n");
    System.err.println("mock API server at " + mesh.server().url("/") + "; join token for bar/foo, "
        + (uses > 0 ? uses + " uses" : "no use limit"));

    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        counter[0].flush();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      stop.countDown();
    }, "mock-stop"));
    Path census = work.resolve("census-request");
    while (!stop.await(1, TimeUnit.SECONDS)) {
      if (Files.exists(census)) {
        Files.delete(census);
        census(mesh, work.resolve("census"));
      }
    }
  }

  /**
   * What is stored at the end: the WorkloadEntries by their {@code Healthy} condition ({@code STATUS/REASON COUNT}
   * lines), the VM credentials, and the uses counted on the join token (one with a use limit: others count none).
   */
  private static void census(MeshOnMockApi mesh, Path out) throws Exception {
    ResourceDefinitionContext entries = new ResourceDefinitionContext.Builder().withGroup("networking.istio.io")
        .withVersion("v1").withKind("WorkloadEntry").withPlural("workloadentries").withNamespaced(true).build();
    Map<String, Integer> count = new TreeMap<>();
    try (KubernetesClient client = mesh.server().createClient()) {
      for (GenericKubernetesResource e : client.genericKubernetesResources(entries).inAnyNamespace().list()
          .getItems()) {
        EntryWrites.Conditions c = EntryWrites.parse(client.getKubernetesSerialization().convertValue(e,
            com.fasterxml.jackson.databind.JsonNode.class));
        count.merge("entries " + c.healthyStatus() + "/" + c.healthyReason(), 1, Integer::sum);
      }
      for (Secret s : client.secrets().inNamespace("bar").list().getItems()) {
        String kind = s.getMetadata().getLabels() == null ? "" : s.getMetadata().getLabels()
            .getOrDefault("istio-vm-agent.io/kind", "");
        if (kind.equals("vm-credential")) {
          count.merge("credentials", 1, Integer::sum);
        } else if (kind.equals("join-token") && s.getData() != null && s.getData().get("usage-limit") != null
            && s.getData().get("uses") != null) {
          count.put("join-token-uses", Integer.parseInt(new String(Base64.getDecoder().decode(s.getData()
              .get("uses")), StandardCharsets.US_ASCII).strip()));
        }
      }
    }
    StringBuilder b = new StringBuilder();
    count.forEach((k, v) -> b.append(k).append(' ').append(v).append('\n'));
    Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
    Files.writeString(tmp, b.toString());
    Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
  }
}
