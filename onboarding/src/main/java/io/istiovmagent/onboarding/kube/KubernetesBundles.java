package io.istiovmagent.onboarding.kube;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.onboarding.generate.BundleGenerator;
import io.istiovmagent.onboarding.generate.InvalidInputException;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.protocol.Revisions;
import io.istiovmagent.server.BundleProvider;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.TokenClaims;
import io.istiovmagent.verify.VerifiedBundle;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Bundles made from the cluster, as istioctl makes them, with a token minted for every bundle served. What is read
 * from the cluster (everything but the token) is kept for a short time per group, so the reports of a fleet and its
 * conditional refreshes cost the API server one set of reads per group and period; a token is minted only for a
 * response that carries one. A bundle that would not pass the agent's own verification is never served.
 */
final class KubernetesBundles implements BundleProvider {
  /** How soon a VM should ask again when the cluster cannot make its bundle. */
  static final long RETRY_SECONDS = 15;

  /** The configuration of a group, all but the token, or why it cannot be made. */
  private record Config(Instant readAt, ClusterReads.Inputs inputs, String configRevision, List<String> warnings,
      ClusterReads.Problem problem) {}

  private final ClusterReads reads;
  private final TokenMinter minter;
  private final Clock clock;
  private final Log log;
  private final Duration cacheTtl;
  private final Map<String, Config> configs = new ConcurrentHashMap<>();
  /** The last problem logged per group, so that a failing group is logged when it changes, not per request. */
  private final Map<String, String> reported = new ConcurrentHashMap<>();
  private final Runnable onClose;

  KubernetesBundles(ClusterReads reads, TokenMinter minter, Duration cacheTtl, Clock clock, Log log,
      Runnable onClose) {
    this.onClose = onClose;
    this.reads = reads;
    this.minter = minter;
    this.cacheTtl = cacheTtl;
    this.clock = clock;
    this.log = log;
  }

  @Override
  public Lookup lookup(String namespace, String group, List<String> ifNoneMatch) {
    String key = namespace + "/" + group;
    Config c = config(namespace, group);
    if (c.problem() != null) {
      return c.problem().missing() ? new Lookup.Missing(c.problem().getMessage())
          : new Lookup.Unavailable(c.problem().getMessage(), RETRY_SECONDS);
    }
    Instant now = clock.instant();
    Optional<String> fresh = MintedEtag.fresh(ifNoneMatch, c.configRevision(), now);
    if (fresh.isPresent()) {
      return new Lookup.NotModified(fresh.get());
    }
    try {
      byte[] token = minter.mint(namespace, c.inputs().group().template().serviceAccount());
      Map<BundleFile, byte[]> files = generate(c.inputs(), token).files();
      VerifiedBundle verified = new BundleVerifier(clock, Set.of()).verify(new RawBundle(files));
      TokenClaims claims = verified.token();
      Instant issued = claims.issuedAt() != null ? claims.issuedAt()
          : claims.notBefore() != null ? claims.notBefore() : now;
      return new Lookup.Found(MintedEtag.of(verified.raw().configRevision(), issued, claims.expiresAt()),
          TarGzWriter.write(files));
    } catch (ClusterReads.Problem p) {
      report(key, p.getMessage());
      return new Lookup.Unavailable(p.getMessage(), RETRY_SECONDS);
    } catch (BadBundleException e) {
      String why = "the bundle made for " + key + " would not pass the agent's verification: "
          + e.problems().stream().map(Problem::format).collect(Collectors.joining("; "));
      report(key, why);
      return new Lookup.Unavailable(why, RETRY_SECONDS);
    } catch (InvalidInputException e) {
      throw new IllegalStateException("inputs that made a configuration made no bundle", e);
    }
  }

  /**
   * Compares the configuration revision the agent holds (all but its token) with the group's: a freshly minted token
   * is not a reason to fetch, so the whole revision cannot be compared. An agent that names no configuration
   * revision (older than protocol 1's {@code bundle.configRevision}) gets no hint.
   */
  @Override
  public Optional<Boolean> changed(String namespace, String group, HealthReport.Bundle has) {
    Config c = config(namespace, group);
    if (c.problem() != null) {
      return Optional.empty();
    }
    if (has == null) {
      return Optional.of(true);
    }
    return has.configRevision() == null ? Optional.empty()
        : Optional.of(!Revisions.same(has.configRevision(), c.configRevision()));
  }

  @Override
  public String describe() {
    ClusterReads.Settings s = reads.settings();
    return "bundles from the cluster (istio namespace " + s.istioNamespace()
        + (s.revisioned() ? ", revision " + s.revision() : "") + ", tokens minted for each bundle)";
  }

  @Override
  public Map<String, String> problems() {
    return new TreeMap<>(reported);
  }

  @Override
  public void close() {
    onClose.run();
  }

  private Config config(String namespace, String group) {
    String key = namespace + "/" + group;
    Instant now = clock.instant();
    Config cached = configs.get(key);
    if (cached != null && now.isBefore(cached.readAt().plus(cacheTtl)) && !now.isBefore(cached.readAt())) {
      return cached;
    }
    // One read per group at a time: concurrent requests for the group wait for it and share its outcome.
    return configs.compute(key, (k, old) -> {
      if (old != null && old != cached) {
        return old; // another request read it meanwhile
      }
      Config fresh = read(namespace, group, now);
      if (fresh.problem() != null) {
        report(key, fresh.problem().getMessage());
      } else {
        if (reported.remove(key) != null) {
          log.notice("the bundle for " + key + " can be made again");
        }
        if (old == null || old.configRevision() == null || !old.configRevision().equals(fresh.configRevision())) {
          log.info("bundle for " + key + " now at configuration " + fresh.configRevision());
          fresh.warnings().forEach(w -> log.warn("bundle for " + key + ": " + w));
        }
      }
      return fresh;
    });
  }

  private Config read(String namespace, String group, Instant now) {
    try {
      ClusterReads.Inputs inputs = reads.read(namespace, group);
      BundleGenerator.Generated g = generate(inputs, new byte[0]);
      return new Config(now, inputs, new RawBundle(g.files()).configRevision(), g.warnings(), null);
    } catch (ClusterReads.Problem p) {
      return new Config(now, null, null, List.of(), p);
    } catch (InvalidInputException e) {
      return new Config(now, null, null, List.of(), new ClusterReads.Problem(false, "the bundle for " + namespace
          + "/" + group + " cannot be made: " + e.getMessage()));
    }
  }

  private BundleGenerator.Generated generate(ClusterReads.Inputs in, byte[] token) throws InvalidInputException {
    ClusterReads.Settings s = reads.settings();
    return BundleGenerator.generate(new BundleGenerator.Request(in.group(), in.meshConfig(), in.clusterId(),
        s.revision(), s.istioNamespace(), in.rootCert(), token, in.gatewayAddress(), Optional.empty(),
        Optional.empty(), false, true));
  }

  private void report(String key, String problem) {
    if (!problem.equals(reported.put(key, problem))) {
      log.warn("cannot make the bundle for " + key + ": " + problem);
    }
  }
}
