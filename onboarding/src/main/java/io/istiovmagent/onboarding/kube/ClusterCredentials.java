package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.istiovmagent.server.Authenticator;
import io.istiovmagent.server.Enroller;
import io.istiovmagent.server.Grant;
import io.istiovmagent.util.Log;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Join tokens and VM credentials as Secrets in the namespace they grant (the namespace is Istio's unit of tenancy:
 * whoever may create Secrets there may onboard VMs there, and nowhere else). The cluster keeps hashes only; a token
 * or credential is shown once, to whoever created it. Used by the service (enrolment, authentication) and by the
 * {@code token} and {@code credential} commands.
 */
public final class ClusterCredentials implements Authenticator, Enroller, AutoCloseable {
  /** Namespaces whose credentials are watched at most (a namespace is watched once a real credential of it shows). */
  static final int MAX_WATCHED = 1000;
  /** Concurrent enrolments with one join token: how often a use count is re-read after a conflict. */
  private static final int UPDATE_ATTEMPTS = 5;
  /**
   * Credentials remembered at most: a fleet's, with room. Anyone may present well-formed credentials of machines
   * that do not exist, and each is remembered (absent) for the cache period; beyond this the memory starts over.
   */
  static final int MAX_CACHED = 200_000;

  /** A join token as {@code token list} shows it: never its secret. */
  public record JoinTokenInfo(String namespace, String id, String group, Instant expires, int uses, OptionalInt limit,
      String description) {}

  /** A VM's credential as {@code credential list} shows it: never its secret. */
  public record CredentialInfo(String namespace, String machineId, String group, String hostname, Instant enrolledAt,
      String joinTokenId) {}

  private record Cached(Instant readAt, Optional<Map<String, String>> data) {}

  private final KubernetesClient client;
  private final Clock clock;
  private final Duration cacheTtl;
  private final Log log;
  private final Map<String, Cached> credentialCache = new ConcurrentHashMap<>();
  /** Namespaces whose credentials could not be read, told once each (the namespace comes from the request). */
  private final Set<String> unreadable = ConcurrentHashMap.newKeySet();
  private final int maxCached;
  /** Per namespace, an informer over its credentials and join tokens, once {@link #watching()}: see {@link #watch}. */
  private final Map<String, SharedIndexInformer<Secret>> watched = new ConcurrentHashMap<>();
  private volatile boolean watching;

  ClusterCredentials(KubernetesClient client, Clock clock, Duration cacheTtl, Log log) {
    this(client, clock, cacheTtl, log, MAX_CACHED);
  }

  ClusterCredentials(KubernetesClient client, Clock clock, Duration cacheTtl, Log log, int maxCached) {
    this.maxCached = maxCached;
    this.client = client;
    this.clock = clock;
    this.cacheTtl = cacheTtl;
    this.log = log;
  }

  /**
   * For the service (not the commands): from now on, the credentials of a namespace are read from an informer once
   * a valid one of it has been presented, so that a fleet's reports cost the API server no read and a revoked
   * credential is refused as soon as the watch says so. A credential the informer does not hold (just enrolled,
   * or forged) is read as before.
   */
  ClusterCredentials watching() {
    watching = true;
    return this;
  }

  @Override
  public void close() {
    watching = false;
    watched.values().forEach(SharedIndexInformer::stop);
  }

  private void watch(String namespace) {
    if (!watching || watched.size() >= MAX_WATCHED || watched.containsKey(namespace)) {
      return;
    }
    watched.computeIfAbsent(namespace, ns -> {
      // The service's Secrets of the namespace: its VM credentials and its (few) join tokens.
      SharedIndexInformer<Secret> informer = client.secrets().inNamespace(ns)
          .withLabel(Secrets.MANAGED_BY, "istio-vm-onboarding").runnableInformer(0);
      informer.exceptionHandler((started, t) -> {
        log.warn("cannot watch the VM credentials and join tokens of " + ns + " (list and watch secrets in " + ns + "): "
            + KubernetesMode.cause(t) + "; each is read when presented, at most every " + cacheTtl.toSeconds()
            + " s");
        return false; // stop: reads go on as before
      });
      informer.start();
      return informer;
    });
  }

  // ---- join tokens (the token command) ----

  /** Creates a join token for {@code group} in {@code namespace}; the token is returned once and kept nowhere. */
  public String createJoinToken(String namespace, String group, Duration ttl, OptionalInt uses, String description) {
    String token = Secrets.newJoinToken();
    String id = Secrets.joinTokenId(token);
    Map<String, String> data = new LinkedHashMap<>();
    data.put("token-id", id);
    data.put("token-hash", Secrets.hash(token));
    data.put("group", group);
    data.put("expiration", clock.instant().plus(ttl).toString());
    data.put("uses", "0");
    uses.ifPresent(n -> data.put("usage-limit", Integer.toString(n)));
    if (!description.isEmpty()) {
      data.put("description", description);
    }
    client.secrets().inNamespace(namespace).resource(new SecretBuilder().withNewMetadata()
        .withName(Secrets.JOIN_PREFIX + id).withNamespace(namespace)
        .withLabels(Map.of(Secrets.KIND_LABEL, "join-token", Secrets.GROUP_LABEL, group,
            Secrets.MANAGED_BY, "istio-vm-onboarding")).endMetadata()
        .withType(Secrets.JOIN_TYPE).withData(encode(data)).build()).create();
    return token;
  }

  /**
   * The join tokens. Uses: of a token with a limit, its count (each enrolment spends one, whether or not it then
   * succeeds); of a token without one, the VMs enrolled with it that hold their credential now (nothing is counted
   * on the token itself, so that a fleet's enrolments never wait for one another: see {@link #spendJoinToken}).
   */
  public List<JoinTokenInfo> listJoinTokens(Optional<String> namespace) {
    Map<String, Integer> enrolled = new HashMap<>();
    listCredentials(namespace).forEach(c -> enrolled.merge(c.namespace() + "/" + c.joinTokenId(), 1, Integer::sum));
    return list(namespace, "join-token").stream().filter(s -> Secrets.JOIN_TYPE.equals(s.getType())).map(s -> {
      Map<String, String> d = decode(s);
      String id = d.getOrDefault("token-id", "?");
      String limit = d.get("usage-limit");
      int uses = limit == null ? enrolled.getOrDefault(s.getMetadata().getNamespace() + "/" + id, 0)
          : integer(d.get("uses")).orElse(0);
      return new JoinTokenInfo(s.getMetadata().getNamespace(), id, d.getOrDefault("group", "?"),
          instant(d.get("expiration")).orElse(Instant.EPOCH), uses,
          limit == null ? OptionalInt.empty() : OptionalInt.of(integer(limit).orElse(0)),
          d.getOrDefault("description", ""));
    }).sorted(Comparator.comparing(JoinTokenInfo::namespace).thenComparing(JoinTokenInfo::expires)).toList();
  }

  /** True when there was such a token. VMs it enrolled keep their credentials. */
  public boolean revokeJoinToken(String namespace, String id) {
    return !client.secrets().inNamespace(namespace).withName(Secrets.JOIN_PREFIX + id).delete().isEmpty();
  }

  // ---- VM credentials (the credential command) ----

  public List<CredentialInfo> listCredentials(Optional<String> namespace) {
    return list(namespace, "vm-credential").stream().filter(s -> Secrets.CREDENTIAL_TYPE.equals(s.getType()))
        .map(s -> {
          Map<String, String> d = decode(s);
          return new CredentialInfo(s.getMetadata().getNamespace(), d.getOrDefault("machine-id", "?"),
              d.getOrDefault("group", "?"), d.getOrDefault("hostname", ""),
              instant(d.get("enrolled-at")).orElse(Instant.EPOCH), d.getOrDefault("join-token-id", ""));
        }).sorted(Comparator.comparing(CredentialInfo::namespace).thenComparing(CredentialInfo::machineId)).toList();
  }

  /** True when the machine had a credential; the VM is cut off once the service's cache has let go of it. */
  public boolean revokeCredential(String namespace, String machineId) {
    return !client.secrets().inNamespace(namespace).withName(Secrets.CREDENTIAL_PREFIX + machineId).delete()
        .isEmpty();
  }

  // ---- the service ----

  /**
   * A VM's credential: the Secret it names, its hash compared in constant time. Secrets are read at most once per
   * cache period, so a revoked credential stops working within that time.
   */
  @Override
  public Optional<Grant> authenticate(String bearer) {
    Optional<Secrets.Presented> p = Secrets.credential(bearer);
    if (p.isEmpty()) {
      return Optional.empty();
    }
    Optional<Map<String, String>> data;
    try {
      data = credentialData(p.get());
    } catch (KubernetesClientException e) {
      // Said once per namespace: whoever presents a credential names the namespace, and must not fill the log.
      if (unreadable.size() < 1000 && unreadable.add(p.get().namespace())) {
        log.warn("cannot read VM credentials in " + p.get().namespace() + " (" + ClusterReads.failure(e,
            "get secrets in " + p.get().namespace()).getMessage() + "); requests with them are refused");
      }
      return Optional.empty();
    }
    if (data.isEmpty() || !Secrets.matches(p.get().value(), data.get().get("credential-hash"))
        || data.get().get("group") == null || !p.get().name().equals(Secrets.CREDENTIAL_PREFIX
            + data.get().get("machine-id"))) {
      return Optional.empty();
    }
    watch(p.get().namespace()); // a real credential of this namespace: worth an informer
    return Optional.of(new Grant.Vm(p.get().namespace(), data.get().get("group"), data.get().get("machine-id")));
  }

  /**
   * Enrols a VM: checks the join token, counts a use only where the token has a limit, and creates the machine's
   * credential. For a fleet's token (no limit) that is no read and one write in the API server once the namespace
   * is watched: enrolments do not serialise on the token's Secret.
   */
  @Override
  public Outcome enrol(String namespace, String group, String joinToken, String machineId, String hostname) {
    if (!Secrets.isMachineId(machineId)) {
      return new Outcome.Refused(400, "machineId must be /etc/machine-id: 32 lowercase hexadecimal digits");
    }
    Optional<Secrets.Presented> p = Secrets.joinToken(joinToken, namespace);
    if (p.isEmpty()) {
      return new Outcome.Refused(401, "a join token is required: Authorization: Bearer <ID.SECRET>, as made by "
          + "istio-vm-onboarding token create");
    }
    try {
      Optional<Outcome> spent = spendJoinToken(p.get(), group, machineId);
      if (spent.isPresent()) {
        return spent.get();
      }
      String credential = Secrets.newCredential(namespace, machineId);
      Map<String, String> data = new LinkedHashMap<>();
      data.put("machine-id", machineId);
      data.put("group", group);
      data.put("credential-hash", Secrets.hash(credential));
      data.put("hostname", hostname.length() > 253 ? hostname.substring(0, 253) : hostname);
      data.put("enrolled-at", clock.instant().toString());
      data.put("join-token-id", Secrets.joinTokenId(joinToken));
      client.secrets().inNamespace(namespace).resource(new SecretBuilder().withNewMetadata()
          .withName(Secrets.CREDENTIAL_PREFIX + machineId).withNamespace(namespace)
          .withLabels(Map.of(Secrets.KIND_LABEL, "vm-credential", Secrets.GROUP_LABEL, group,
              Secrets.MACHINE_LABEL, machineId, Secrets.MANAGED_BY, "istio-vm-onboarding")).endMetadata()
          .withType(Secrets.CREDENTIAL_TYPE).withData(encode(data)).build()).create();
      credentialCache.remove(namespace + "/" + Secrets.CREDENTIAL_PREFIX + machineId);
      log.notice("enrolled machine " + machineId + " (" + hostname + ") into " + namespace + "/" + group
          + " with join token " + Secrets.joinTokenId(joinToken));
      return new Outcome.Enrolled(credential);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) { // enrolled by another request since it was looked for
        return alreadyEnrolled(namespace, machineId);
      }
      String why = ClusterReads.failure(e, "get, update and create secrets in " + namespace).getMessage();
      log.warn("cannot enrol machine " + machineId + " into " + namespace + "/" + group + ": " + why);
      return new Outcome.Refused(503, why);
    }
  }

  private static Outcome alreadyEnrolled(String namespace, String machineId) {
    return new Outcome.Refused(409, "machine " + machineId + " is already enrolled in " + namespace + "; a "
        + "reinstalled VM's old credential must be revoked first: istio-vm-onboarding credential revoke -n "
        + namespace + " " + machineId);
  }

  /**
   * Checks the join token, then that the machine has no credential yet, and counts one use where the token has a
   * limit; empty when it may enrol into {@code group}. A limited token's count is one Secret updated with its
   * resource version, so concurrent enrolments with it conflict: each retries after a random pause. A token
   * without a limit is only read (from the namespace's informer once it runs).
   */
  private Optional<Outcome> spendJoinToken(Secrets.Presented p, String group, String machineId) {
    boolean fresh = false; // the first look may be the informer's copy; after a conflict, the API server's
    for (int attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      Secret s = fresh ? client.secrets().inNamespace(p.namespace()).withName(p.name()).get() : secret(p, true);
      Map<String, String> d = s == null ? Map.of() : decode(s);
      if (s == null || !Secrets.JOIN_TYPE.equals(s.getType()) || !Secrets.matches(p.value(), d.get("token-hash"))) {
        return Optional.of(new Outcome.Refused(401, "this join token is not valid for " + p.namespace()
            + " (unknown, revoked, or for another namespace)"));
      }
      Optional<Instant> expires = instant(d.get("expiration"));
      if (expires.isEmpty() || !clock.instant().isBefore(expires.get())) {
        return Optional.of(new Outcome.Refused(401, "this join token expired" + expires.map(t -> " at " + t)
            .orElse("") + "; create a new one: istio-vm-onboarding token create -n " + p.namespace() + " --group "
            + group));
      }
      if (!group.equals(d.get("group"))) {
        return Optional.of(new Outcome.Refused(403, "this join token is for the group " + p.namespace() + "/"
            + d.get("group") + ", not " + p.namespace() + "/" + group));
      }
      watch(p.namespace()); // a valid join token of this namespace: its credentials are worth an informer
      // Before a use is spent on it; absent from a running informer is taken as absent: the create then tells.
      if (attempt == 0 && secret(new Secrets.Presented(p.namespace(), Secrets.CREDENTIAL_PREFIX + machineId, ""),
          false) != null) {
        return Optional.of(alreadyEnrolled(p.namespace(), machineId));
      }
      if (!d.containsKey("usage-limit")) {
        return Optional.empty();
      }
      int uses = integer(d.get("uses")).orElse(0);
      int limit = integer(d.get("usage-limit")).orElse(0);
      if (uses >= limit) {
        return Optional.of(new Outcome.Refused(401, "this join token has been used " + uses + " times, its "
            + "limit; create a new one: istio-vm-onboarding token create -n " + p.namespace() + " --group " + group));
      }
      Map<String, String> raw = new LinkedHashMap<>(s.getData());
      raw.put("uses", b64(Integer.toString(uses + 1)));
      try {
        // a copy: the informer's objects are shared; with its resourceVersion, so 409 if another use came first
        client.secrets().inNamespace(p.namespace()).resource(new SecretBuilder(s).withData(raw).build()).update();
        return Optional.empty();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
      fresh = true;
      if (!pause(attempt)) {
        break;
      }
    }
    return Optional.of(new Outcome.Refused(503, "too many enrolments at once with this join token; retry"));
  }

  /** After the {@code attempt}th conflict: a random pause of up to 20 ms × 2^attempt, so that the racers spread. */
  private static boolean pause(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(20L << attempt));
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * One of the service's Secrets, null when there is none: from the namespace's informer when it is running; read
   * from the API server when the namespace is not watched yet, or when the informer does not hold it and
   * {@code readIfAbsent} (it may have been created a moment ago: a join token).
   */
  private Secret secret(Secrets.Presented p, boolean readIfAbsent) {
    SharedIndexInformer<Secret> informer = running(p.namespace());
    Secret s = informer != null ? informer.getStore().getByKey(p.namespace() + "/" + p.name()) : null;
    return s != null || (informer != null && !readIfAbsent) ? s
        : client.secrets().inNamespace(p.namespace()).withName(p.name()).get();
  }

  /** The namespace's informer when it has listed and runs (its store can be trusted), else null. */
  private SharedIndexInformer<Secret> running(String namespace) {
    SharedIndexInformer<Secret> informer = watched.get(namespace);
    return informer != null && informer.hasSynced() && informer.isRunning() ? informer : null;
  }

  /**
   * Whether the credentials of {@code namespace} are served from an informer that is watching now; for tests (the
   * mock API server does not replay what happened between an informer's list and its watch, as a real one does).
   */
  boolean watchedAndSynced(String namespace) {
    SharedIndexInformer<Secret> informer = running(namespace);
    return informer != null && informer.isWatching();
  }

  /** Whether the namespace's informer holds the Secret {@code name} now; for tests. */
  boolean informed(String namespace, String name) {
    SharedIndexInformer<Secret> informer = watched.get(namespace);
    return informer != null && informer.getStore().getByKey(namespace + "/" + name) != null;
  }

  /** Whether an informer was started for {@code namespace}; for tests. */
  boolean watches(String namespace) {
    return watched.containsKey(namespace);
  }

  /** How many credentials (present or absent) are remembered now; tests prove the bound with it. */
  int remembered() {
    return credentialCache.size();
  }

  private Optional<Map<String, String>> credentialData(Secrets.Presented p) {
    String key = p.namespace() + "/" + p.name();
    SharedIndexInformer<Secret> informer = running(p.namespace());
    boolean informed = informer != null;
    if (informed) {
      Secret s = informer.getStore().getByKey(key);
      if (s != null && Secrets.CREDENTIAL_TYPE.equals(s.getType())) {
        return Optional.of(Map.copyOf(decode(s)));
      }
    }
    Instant now = clock.instant();
    Cached c = credentialCache.get(key);
    // Not in the informer: revoked (a remembered "present" is not trusted then), just enrolled, or never was.
    if (c != null && now.isBefore(c.readAt().plus(cacheTtl)) && !now.isBefore(c.readAt())
        && (!informed || c.data().isEmpty())) {
      return c.data();
    }
    Secret s = client.secrets().inNamespace(p.namespace()).withName(p.name()).get();
    Optional<Map<String, String>> data = s == null || !Secrets.CREDENTIAL_TYPE.equals(s.getType())
        ? Optional.empty() : Optional.of(Map.copyOf(decode(s)));
    unreadable.remove(p.namespace());
    if (credentialCache.size() >= maxCached) {
      credentialCache.clear(); // bounded: see MAX_CACHED
    }
    credentialCache.put(key, new Cached(now, data));
    return data;
  }

  private List<Secret> list(Optional<String> namespace, String kind) {
    return (namespace.isPresent() ? client.secrets().inNamespace(namespace.get())
        .withLabel(Secrets.KIND_LABEL, kind).list() : client.secrets().inAnyNamespace()
        .withLabel(Secrets.KIND_LABEL, kind).list()).getItems();
  }

  private static Map<String, String> encode(Map<String, String> data) {
    Map<String, String> out = new LinkedHashMap<>();
    data.forEach((k, v) -> out.put(k, b64(v)));
    return out;
  }

  private static String b64(String v) {
    return Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8));
  }

  private static Map<String, String> decode(Secret s) {
    Map<String, String> out = new LinkedHashMap<>();
    if (s.getData() != null) {
      s.getData().forEach((k, v) -> {
        try {
          out.put(k, new String(Base64.getDecoder().decode(v == null ? "" : v), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
          // not base64: a hand-made Secret; the key is left out, and what needs it refuses
        }
      });
    }
    return out;
  }

  private static Optional<Instant> instant(String s) {
    try {
      return s == null ? Optional.empty() : Optional.of(Instant.parse(s));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  private static Optional<Integer> integer(String s) {
    try {
      return s == null ? Optional.empty() : Optional.of(Integer.parseInt(s.strip()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }
}
