package io.istiovmagent.daemon;

import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Istio writes an empty hosts file when the east-west gateway has only a DNS name (Istio #31624). With
 * hosts.gatewayHostname set, the agent resolves that name and maps istiod's names to its addresses. Pure: the
 * resolution happens at the edge and comes in as a list.
 */
public final class GatewayHosts {
  private GatewayHosts() {}

  /** The istiod names the bundle reaches: discoveryAddress from mesh.yaml and CA_ADDR from cluster.env. */
  public static List<String> istiodNames(VerifiedBundle b, Set<String> allowedNames) {
    Set<String> names = new LinkedHashSet<>();
    addHost(names, b.mesh().discoveryAddress());
    addHost(names, b.clusterEnv().nonEmpty("CA_ADDR"));
    names.removeIf(n -> !HostsEntry.isIstiodName(n) && !allowedNames.contains(n));
    return List.copyOf(names);
  }

  /** One entry per usable address (not loopback, unspecified, link-local multicast), each with every name. */
  public static List<HostsEntry> entries(List<String> names, List<InetAddress> resolved) {
    if (names.isEmpty()) {
      return List.of();
    }
    List<HostsEntry> out = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    for (InetAddress a : resolved) {
      if (a.isLoopbackAddress() || a.isAnyLocalAddress() || a.isMulticastAddress()) {
        continue;
      }
      String text = a instanceof Inet6Address ? a.getHostAddress().replaceAll("%.*$", "") : a.getHostAddress();
      if (seen.add(text)) {
        out.add(new HostsEntry(text.toLowerCase(Locale.ROOT), names));
      }
    }
    return out;
  }

  /** "istiod.istio-system.svc:15012" → "istiod.istio-system.svc"; also bracketed IPv6 and bare names. */
  private static void addHost(Set<String> names, String address) {
    if (address == null || address.isBlank()) {
      return;
    }
    String a = address.strip().toLowerCase(Locale.ROOT);
    if (a.startsWith("[")) {
      return; // an IP literal needs no hosts entry
    }
    int colon = a.lastIndexOf(':');
    names.add(colon > 0 ? a.substring(0, colon) : a);
  }
}
