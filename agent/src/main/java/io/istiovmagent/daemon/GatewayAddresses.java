package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A DNS-only gateway (hosts.gatewayHostname): its name resolved off the loop, on a lane of its own (the fetch
 * resolves it on its own thread too, {@link FetchRunner}), and the hosts entries that map istiod's names to it.
 */
final class GatewayAddresses {
  /**
   * Restoring the last-known-good before the loop waits this long for the gateway's name at most; a later answer
   * is applied when it comes, and the first fetch resolves it again anyway.
   */
  static final Duration RESTORE_RESOLVE = Duration.ofSeconds(2);

  private final AgentDaemon.Resolver resolver;
  private final Log log;
  private final IoLane lane = new IoLane("gateway-resolve");
  private AgentConfig.Hosts hosts = new AgentConfig.Hosts(List.of(), Optional.empty());

  GatewayAddresses(AgentDaemon.Resolver resolver, Log log) {
    this.resolver = resolver;
    this.log = log;
  }

  void wakeWith(Runnable wake) {
    lane.wakeWith(wake);
  }

  void configure(AgentConfig.Hosts hosts) {
    this.hosts = hosts;
  }

  AgentDaemon.Resolver resolver() {
    return resolver;
  }

  Optional<String> name() {
    return hosts.gatewayHostname();
  }

  /** Whether {@code b}'s hosts entries come from the gateway's name (the bundle brought none). */
  boolean needed(VerifiedBundle b) {
    return b.hosts().isEmpty() && name().isPresent();
  }

  /**
   * Resolves the name on the lane, unless a lookup is under way; {@code onLoop} gets the answer on the loop thread
   * (an answer for a name no longer configured is dropped).
   */
  void request(Consumer<GatewayLookup> onLoop) {
    if (name().isEmpty() || lane.busy()) {
      return;
    }
    String host = name().get();
    lane.submit(() -> GatewayLookup.of(resolver, host), l -> {
      if (name().equals(Optional.of(l.host()))) {
        onLoop.accept(l);
      }
    });
  }

  /** Before the loop: resolves and waits {@link #RESTORE_RESOLVE} at most; null when no answer came (see late). */
  GatewayLookup resolveBeforeLoop(Consumer<GatewayLookup> late) {
    GatewayLookup[] got = {null};
    boolean[] waiting = {true};
    request(l -> {
      if (waiting[0]) {
        got[0] = l;
      } else {
        late.accept(l);
      }
    });
    lane.awaitFinished(RESTORE_RESOLVE);
    waiting[0] = false;
    return got[0];
  }

  /** Applies answers that came in; returns whether there was one. Loop thread. */
  boolean takeFinished() {
    return lane.takeFinished();
  }

  /** {@code b}'s hosts entries, else the gateway's as {@code lookup} resolved it; {@code inForce} while unknown. */
  List<HostsEntry> entriesFor(VerifiedBundle b, GatewayLookup lookup, List<HostsEntry> inForce) {
    if (!needed(b)) {
      return b.hosts();
    }
    String gateway = name().get();
    if (lookup == null || !lookup.host().equals(gateway)) {
      return inForce; // the answer is still to come; it is applied when it does
    }
    if (lookup.addresses() == null) {
      log.warn("cannot resolve hosts.gatewayHostname " + gateway + "; keeping the current hosts entries");
      return inForce;
    }
    List<String> names = GatewayHosts.istiodNames(b, new HashSet<>(hosts.allowedNames()));
    List<HostsEntry> entries = GatewayHosts.entries(names, lookup.addresses());
    if (entries.isEmpty()) {
      log.warn("hosts.gatewayHostname " + gateway + " resolved to no usable address");
    }
    return entries;
  }
}
