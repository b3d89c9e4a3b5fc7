package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.istiovmagent.server.Enroller.Outcome;
import io.istiovmagent.server.Grant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Join tokens and VM credentials as Secrets, against fabric8's mock API server in CRUD mode. */
@EnableKubernetesMockClient(crud = true)
class ClusterCredentialsTest {
  private static final String VM1 = "0123456789abcdef0123456789abcdef";
  private static final String VM2 = "fedcba9876543210fedcba9876543210";

  KubernetesMockServer server;
  KubernetesClient client;
  private MeshOnMockApi mesh;
  private ClusterCredentials creds;

  @BeforeEach
  void setUp() {
    mesh = new MeshOnMockApi(server, client);
    creds = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log);
  }

  private Secret secret(String name) {
    return client.secrets().inNamespace("bar").withName(name).get();
  }

  private static String credential(Outcome o) {
    return assertInstanceOf(Outcome.Enrolled.class, o, String.valueOf(o)).credential();
  }

  @Test
  void aJoinTokenIsKeptAsAHashAndShownOnce() {
    String token = creds.createJoinToken("bar", "foo", Duration.ofHours(24), OptionalInt.of(3), "batch 7");
    assertTrue(token.matches("[a-z0-9]{6}\\.[a-z0-9]{26}"), token);
    String id = token.substring(0, 6);
    Secret s = secret("istio-vm-join-" + id);
    assertEquals("istio-vm-agent.io/join-token", s.getType());
    assertEquals("foo", s.getMetadata().getLabels().get("istio-vm-agent.io/group"));
    String stored = client.getKubernetesSerialization().asJson(s);
    assertFalse(stored.contains(token.substring(7)), "the secret part is nowhere in the Secret: " + stored);
    assertEquals(List.of(new ClusterCredentials.JoinTokenInfo("bar", id, "foo",
        MeshOnMockApi.START.plus(Duration.ofHours(24)), 0, OptionalInt.of(3), "batch 7")),
        creds.listJoinTokens(Optional.of("bar")));
    assertEquals(1, creds.listJoinTokens(Optional.empty()).size());
  }

  /**
   * Enrolment trades the join token for a credential bound to the machine; the credential works after the join
   * token is revoked; a second enrolment of the same machine id (a sibling claiming it) is refused.
   */
  @Test
  void enrolmentGivesEachMachineItsOwnCredential() {
    String token = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    String c1 = credential(creds.enrol("bar", "foo", token, VM1, "vm-1"));
    assertTrue(c1.matches("vmc\\.bar\\." + VM1 + "\\.[a-z0-9]{32}"), c1);
    assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM1)), creds.authenticate(c1));
    assertEquals(VM1, secret("istio-vm-cred-" + VM1).getMetadata().getLabels().get("istio-vm-agent.io/machine-id"));
    assertFalse(client.getKubernetesSerialization().asJson(secret("istio-vm-cred-" + VM1))
        .contains(c1.substring(c1.lastIndexOf('.') + 1)), "the credential's secret is not kept");

    Outcome.Refused again = assertInstanceOf(Outcome.Refused.class, creds.enrol("bar", "foo", token, VM1, "impostor"));
    assertEquals(409, again.status());
    assertTrue(again.reason().contains("credential revoke -n bar " + VM1), again.reason());
    assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM1)), creds.authenticate(c1), "the first keeps its own");

    String c2 = credential(creds.enrol("bar", "foo", token, VM2, "vm-2"));
    assertEquals(2, creds.listCredentials(Optional.of("bar")).size());
    assertEquals(2, creds.listJoinTokens(Optional.of("bar")).get(0).uses());

    assertTrue(creds.revokeJoinToken("bar", token.substring(0, 6)));
    assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM2)), creds.authenticate(c2), "enrolled VMs stay in");
    assertEquals(401, assertInstanceOf(Outcome.Refused.class,
        creds.enrol("bar", "foo", token, "00000000000000000000000000000003", "vm-3")).status());
  }

  @Test
  void aForgedOrRevokedCredentialIsRefused() {
    String token = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    String c1 = credential(creds.enrol("bar", "foo", token, VM1, "vm-1"));
    String forged = c1.substring(0, c1.lastIndexOf('.') + 1) + "a".repeat(32);
    assertEquals(Optional.empty(), creds.authenticate(forged));
    assertEquals(Optional.empty(), creds.authenticate(c1.replace("vmc.bar.", "vmc.other.")), "another namespace");
    assertEquals(Optional.empty(), creds.authenticate(token), "a join token is not a credential");

    assertTrue(creds.revokeCredential("bar", VM1));
    assertTrue(creds.authenticate(c1).isPresent(), "within the cache period");
    mesh.clock.advance(Duration.ofSeconds(10));
    assertEquals(Optional.empty(), creds.authenticate(c1));
    credential(creds.enrol("bar", "foo", token, VM1, "vm-1 reinstalled")); // revoked first: may enrol again
  }

  @Test
  void aJoinTokenIsRefusedWhenExpiredUsedUpForAnotherGroupOrUnknown() {
    String once = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.of(1), "");
    assertEquals(403, ((Outcome.Refused) creds.enrol("bar", "other", once, VM1, "vm")).status());
    credential(creds.enrol("bar", "foo", once, VM1, "vm"));
    Outcome.Refused usedUp = (Outcome.Refused) creds.enrol("bar", "foo", once, VM2, "vm");
    assertEquals(401, usedUp.status());
    assertTrue(usedUp.reason().contains("used 1 times, its limit"), usedUp.reason());

    String shortLived = creds.createJoinToken("bar", "foo", Duration.ofMinutes(5), OptionalInt.empty(), "");
    mesh.clock.advance(Duration.ofMinutes(5));
    Outcome.Refused expired = (Outcome.Refused) creds.enrol("bar", "foo", shortLived, VM2, "vm");
    assertEquals(401, expired.status());
    assertTrue(expired.reason().contains("expired at 2026-12-07T10:05:00Z"), expired.reason());

    assertEquals(401, ((Outcome.Refused) creds.enrol("bar", "foo", "abcdef.abcdefghijklmnopqrstuvwxyz", VM2, "vm"))
        .status(), "well-formed, unknown");
    assertEquals(401, ((Outcome.Refused) creds.enrol("bar", "foo", "not-a-token", VM2, "vm")).status());
    assertEquals(400, ((Outcome.Refused) creds.enrol("bar", "foo", shortLived, "../etc", "vm")).status());
  }

  /**
   * Anyone may present well-formed credentials: of machines that do not exist (remembered as absent, within a
   * bound), or in a namespace the service may not read (said once in the log, not once per request).
   */
  @Test
  void forgedCredentialsNeitherFillMemoryNorTheLog() {
    ClusterCredentials small = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log, 3);
    for (int i = 0; i < 10; i++) {
      assertEquals(Optional.empty(), small.authenticate("vmc.bar." + String.format("%032x", i) + "." + "a".repeat(32)));
      assertTrue(small.remembered() <= 3, "remembered " + small.remembered());
    }
    String token = small.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    String c1 = credential(small.enrol("bar", "foo", token, VM1, "vm-1"));
    assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM1)), small.authenticate(c1), "a real one still works");

    String forbidden = "vmc.locked." + VM2 + "." + "a".repeat(32);
    server.expect().get().withPath("/api/v1/namespaces/locked/secrets/istio-vm-cred-" + VM2).andReturn(403,
        new io.fabric8.kubernetes.api.model.StatusBuilder().withCode(403).withReason("Forbidden").build()).always();
    for (int i = 0; i < 5; i++) {
      assertEquals(Optional.empty(), creds.authenticate(forbidden));
    }
    assertEquals(1, mesh.logged().split("cannot read VM credentials in locked", -1).length - 1, mesh.logged());
  }

  /** A Secret of the same name but not of our type (someone else's) grants nothing. */
  @Test
  void onlySecretsOfItsOwnTypeCount() {
    String token = creds.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
    String c1 = credential(creds.enrol("bar", "foo", token, VM1, "vm-1"));
    Secret mine = secret("istio-vm-cred-" + VM1);
    client.secrets().inNamespace("bar").withName(mine.getMetadata().getName()).delete();
    client.secrets().inNamespace("bar").resource(new SecretBuilder(mine).editMetadata().withResourceVersion(null)
        .endMetadata().withType("Opaque").build()).create();
    mesh.clock.advance(Duration.ofSeconds(10));
    assertEquals(Optional.empty(), creds.authenticate(c1));
    assertNotNull(secret("istio-vm-cred-" + VM1));
  }

  /** In the service, credentials come from an informer: a fleet's reports cost no read, a revocation takes at once. */
  @Test
  void watchedCredentialsCostNoReadAndARevocationTakesAtOnce() throws Exception {
    try (ClusterCredentials service = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log)
        .watching()) {
      String token = service.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "");
      String c1 = credential(service.enrol("bar", "foo", token, VM1, "vm-1"));
      String forged = "vmc.baz." + VM2 + "." + "a".repeat(32);
      assertEquals(Optional.empty(), service.authenticate(forged), "a forged credential starts no informer");
      assertFalse(service.watches("baz"));
      assertTrue(service.watches("bar"), "a valid join token started one");
      assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM1)), service.authenticate(c1));
      awaitSynced(service, "bar");
      requestsSinceLastLook();
      for (int i = 0; i < 10; i++) {
        mesh.clock.advance(Duration.ofSeconds(60)); // a heartbeat: longer than the cache period
        assertEquals(Optional.of(new Grant.Vm("bar", "foo", VM1)), service.authenticate(c1));
      }
      assertEquals(List.of(), requestsSinceLastLook(), "ten reports a minute apart, no read");

      // Revoked by an operator elsewhere (credential revoke on a laptop): refused as soon as the watch tells,
      // though the clock stands still now and no cache period ends.
      client.secrets().inNamespace("bar").withName("istio-vm-cred-" + VM1).delete();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (service.authenticate(c1).isPresent()) {
        assertTrue(System.nanoTime() < deadline, "the revocation never took");
        Thread.sleep(5);
      }
    }
  }

  /**
   * The requests the mock received since the last look, but an informer's watch (which may be made a moment after
   * the informer says it is watching). The mock records a request before it answers, so what a call made is there
   * when the call returns.
   */
  private List<String> requestsSinceLastLook() throws InterruptedException {
    List<String> seen = new ArrayList<>();
    for (RecordedRequest r = server.takeRequest(10, TimeUnit.MILLISECONDS); r != null;
        r = server.takeRequest(10, TimeUnit.MILLISECONDS)) {
      if (!r.getPath().contains("watch=true")) {
        seen.add(r.getMethod() + " " + r.getPath());
      }
    }
    return seen;
  }

  /** Waits until the watch has told the informer of a Secret made ({@code held}) or deleted elsewhere. */
  private static void awaitInformed(ClusterCredentials service, String name, boolean held)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (service.informed("bar", name) != held) {
      assertTrue(System.nanoTime() < deadline, "the watch never told of " + name);
      Thread.sleep(5);
    }
  }

  private static void awaitSynced(ClusterCredentials service, String namespace) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!service.watchedAndSynced(namespace)) {
      assertTrue(System.nanoTime() < deadline, "the informer never listed");
      Thread.sleep(5);
    }
  }

  /**
   * A fleet's join token (no use limit) is only read, from the namespace's informer: an enrolment is one write, the
   * credential, and the token's Secret is never updated, so that thousands of VMs joining at once do not conflict
   * on it. Its uses are the credentials it enrolled. A machine already enrolled is refused without a request.
   */
  @Test
  void aFleetTokenEnrolsWithOneWriteAndNoConflict() throws Exception {
    try (ClusterCredentials service = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log)
        .watching()) {
      String token = service.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.empty(), "fleet");
      String tokenVersion = secret("istio-vm-join-" + token.substring(0, 6)).getMetadata().getResourceVersion();
      credential(service.enrol("bar", "foo", token, VM1, "vm-1"));
      awaitSynced(service, "bar");

      requestsSinceLastLook();
      credential(service.enrol("bar", "foo", token, VM2, "vm-2"));
      assertEquals(List.of("POST /api/v1/namespaces/bar/secrets"), requestsSinceLastLook(), "the credential only");
      awaitInformed(service, "istio-vm-cred-" + VM2, true);
      requestsSinceLastLook();
      Outcome.Refused again = assertInstanceOf(Outcome.Refused.class, service.enrol("bar", "foo", token, VM2, "x"));
      assertEquals(409, again.status());
      assertTrue(again.reason().contains("credential revoke -n bar " + VM2), again.reason());
      assertEquals(List.of(), requestsSinceLastLook(), "refused from the informer, without a request");

      assertEquals(tokenVersion, secret("istio-vm-join-" + token.substring(0, 6)).getMetadata()
          .getResourceVersion(), "the token's Secret is never written");
      assertEquals(2, service.listJoinTokens(Optional.of("bar")).get(0).uses(), "its uses: the VMs it enrolled");

      // Revoked elsewhere: refused as soon as the watch tells (as a revoked credential is).
      client.secrets().inNamespace("bar").withName("istio-vm-join-" + token.substring(0, 6)).delete();
      awaitInformed(service, "istio-vm-join-" + token.substring(0, 6), false);
      assertEquals(401, assertInstanceOf(Outcome.Refused.class,
          service.enrol("bar", "foo", token, "00000000000000000000000000000003", "vm-3")).status());
    }
  }

  /**
   * A token with a use limit counts each use on its Secret with its resource version: racing enrolments (two
   * replicas, threads of one) conflict and retry, and never spend more uses than the limit, nor make a credential
   * without a use counted.
   */
  @Test
  void aLimitedTokenIsNeverOverspentByRacingEnrolments() throws Exception {
    try (ClusterCredentials a = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log)
        .watching()) {
      ClusterCredentials b = new ClusterCredentials(client, mesh.clock, Duration.ofSeconds(10), mesh.log);
      String token = a.createJoinToken("bar", "foo", Duration.ofHours(1), OptionalInt.of(5), "");
      credential(a.enrol("bar", "foo", token, VM1, "vm-1")); // a's informer starts: its copy of the token may lag
      awaitSynced(a, "bar");
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Future<Outcome>> racing = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        ClusterCredentials replica = i % 2 == 0 ? a : b;
        String machine = String.format("%032x", 100 + i);
        racing.add(pool.submit(() -> replica.enrol("bar", "foo", token, machine, "vm")));
      }
      int enrolled = 1;
      for (Future<Outcome> f : racing) {
        Outcome o = f.get(30, TimeUnit.SECONDS);
        if (o instanceof Outcome.Enrolled) {
          enrolled++;
        } else {
          int status = ((Outcome.Refused) o).status();
          assertTrue(status == 401 || status == 503, String.valueOf(o)); // used up, or too many conflicts
        }
      }
      pool.shutdown();
      assertTrue(enrolled <= 5, enrolled + " enrolled with a token of 5 uses");
      assertEquals(enrolled, a.listCredentials(Optional.of("bar")).size());
      assertEquals(enrolled, a.listJoinTokens(Optional.of("bar")).get(0).uses(), "each credential a use counted");
      Outcome late = b.enrol("bar", "foo", token, String.format("%032x", 999), "vm");
      if (enrolled == 5) { // the usual outcome; a racer refused 503 (too many conflicts) left a use
        assertEquals(401, assertInstanceOf(Outcome.Refused.class, late).status(), String.valueOf(late));
      } else {
        credential(late);
      }
    }
  }
}
