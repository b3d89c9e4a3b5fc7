package io.istiovmagent.onboarding.generate;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The bundle's hosts file as istioctl writes it ({@code createHosts}): one line mapping istiod's name, through which
 * the east-west gateway routes 15012 by SNI, to the gateway's address, or an empty file when the address is not an IP
 * (istioctl then warns "Could not auto-detect IP"; the agent resolves a DNS-only gateway itself).
 */
final class Hosts {
  /** Four decimal octets, no leading zeros: Go's net.ParseIP, which istioctl uses, refuses them since Go 1.17. */
  private static final Pattern IPV4 = Pattern.compile(
      "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");

  private Hosts() {}

  /** istiod's host name: {@code istiod[-REV].ISTIO_NAMESPACE.svc}. */
  static String istiodName(String revision, String istioNamespace) {
    boolean revisioned = !revision.isEmpty() && !revision.equals("default");
    return "istiod" + (revisioned ? "-" + revision : "") + "." + istioNamespace + ".svc";
  }

  static byte[] render(Optional<String> gatewayAddress, String revision, String istioNamespace) {
    return gatewayAddress.filter(Hosts::isIp)
        .map(ip -> (ip + " " + istiodName(revision, istioNamespace) + "\n").getBytes(StandardCharsets.US_ASCII))
        .orElse(new byte[0]);
  }

  /** An IPv4 or IPv6 literal; never a DNS lookup (a name is simply not an IP). */
  static boolean isIp(String s) {
    if (IPV4.matcher(s).matches()) {
      return true;
    }
    if (s.indexOf(':') < 0 || !IPV6_CHARS.matcher(s).matches()) {
      return false;
    }
    try {
      // A string with a colon is parsed as an IPv6 literal or refused: InetAddress looks nothing up for it.
      return InetAddress.getByName(s) != null;
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
