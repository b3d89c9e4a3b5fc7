package io.istiovmagent.daemon;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/** A DNS-only gateway's name as resolved off the loop: its addresses, or null when it did not resolve. */
record GatewayLookup(String host, List<InetAddress> addresses) {
  /** Blocks for as long as the resolver does: call it on a worker, never on the loop. */
  static GatewayLookup of(AgentDaemon.Resolver resolver, String host) {
    try {
      return new GatewayLookup(host, List.copyOf(resolver.resolve(host)));
    } catch (UnknownHostException e) {
      return new GatewayLookup(host, null);
    }
  }
}
