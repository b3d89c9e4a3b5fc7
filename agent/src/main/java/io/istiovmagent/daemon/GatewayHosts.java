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
final class GatewayHosts {
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
      String text = a instanceof Inet6Address ? rfc5952(a.getAddress()) : a.getHostAddress();
      if (seen.add(text)) {
        out.add(new HostsEntry(text.toLowerCase(Locale.ROOT), names));
      }
    }
    return out;
  }

  /** IPv6 as people write it (RFC 5952): the longest run of two or more zero groups becomes "::". */
  static String rfc5952(byte[] a) {
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((a[2 * i] & 0xff) << 8) | (a[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
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
