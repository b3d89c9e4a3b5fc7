package io.istiovmagent.onboarding.generate;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * cluster.env as istioctl writes it ({@code createClusterEnv} and {@code mapToString}): one {@code KEY=VALUE} line per
 * entry, the value quoted by {@link ShellQuote}, the lines sorted byte by byte as Go's {@code sort.Strings} sorts
 * them (so {@code A1=} comes before {@code A=}, and {@code A=} before {@code A_B=}), joined by newlines, with a final
 * newline.
 */
final class ClusterEnv {
  /** What cluster.env is made of beside the mesh's proxyMetadata. */
  record Inputs(String group, String namespace, String serviceAccount, Map<String, Integer> ports, int statusPort,
      String revision, String istioNamespace, Optional<String> internalIp, Optional<String> externalIp) {
    Inputs {
      Objects.requireNonNull(group, "group == null");
      Objects.requireNonNull(namespace, "namespace == null");
      Objects.requireNonNull(serviceAccount, "serviceAccount == null");
      ports = Map.copyOf(ports);
      Objects.requireNonNull(revision, "revision == null");
      Objects.requireNonNull(istioNamespace, "istioNamespace == null");
      Objects.requireNonNull(internalIp, "internalIp == null");
      Objects.requireNonNull(externalIp, "externalIp == null");
    }

    /** istioctl's "revisioned": a revision other than none and "default". */
    boolean revisioned() {
      return !revision.isEmpty() && !revision.equals("default");
    }
  }

  private ClusterEnv() {}

  /**
   * The entries: every entry of the final proxyMetadata, then istioctl's own, which win. One deliberate difference:
   * ISTIO_INBOUND_PORTS lists the group's ports in ascending order, where istioctl follows Go's map iteration
   * (random from run to run with more than one port), so that regenerating an unchanged group changes nothing.
   */
  static Map<String, String> entries(Map<String, String> proxyMetadata, Inputs in) {
    Map<String, String> env = new TreeMap<>(proxyMetadata);
    env.put("ISTIO_INBOUND_PORTS", in.ports().isEmpty() ? "*"
        : in.ports().values().stream().sorted().map(String::valueOf).collect(Collectors.joining(",")));
    env.put("ISTIO_NAMESPACE", in.namespace());
    env.put("ISTIO_SERVICE", in.group() + "." + in.namespace());
    env.put("ISTIO_SERVICE_CIDR", "*");
    env.put("ISTIO_LOCAL_EXCLUDE_PORTS", "22,15090,15021" + (in.statusPort() == 0 ? ",15020"
        : in.statusPort() == 15090 || in.statusPort() == 15021 ? "" : "," + in.statusPort()));
    env.put("SERVICE_ACCOUNT", in.serviceAccount());
    if (in.revisioned()) {
      env.put("CA_ADDR", "istiod-" + in.revision() + "." + in.istioNamespace() + ".svc:15012");
    }
    in.internalIp().or(in::externalIp).ifPresent(ip -> env.put("ISTIO_SVC_IP", ip));
    if (in.internalIp().isEmpty() && in.externalIp().isPresent()) {
      env.put("REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION", "true");
    }
    return env;
  }

  static byte[] render(Map<String, String> entries) {
    List<String> lines = new ArrayList<>();
    for (Map.Entry<String, String> e : entries.entrySet()) {
      lines.add(e.getKey() + "=" + ShellQuote.quote(e.getValue()));
    }
    lines.sort(GoStrings.ORDER);
    StringBuilder out = new StringBuilder();
    for (String line : lines) {
      out.append(line).append('\n');
    }
    return out.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * {@code rendered} (as {@link #render} wrote it) with {@code key} set to {@code value}, the lines in their order:
   * what makes one VM's cluster.env from its group's.
   */
  static byte[] with(byte[] rendered, String key, String value) {
    List<String> lines = new ArrayList<>();
    for (String line : new String(rendered, StandardCharsets.UTF_8).split("\n")) {
      if (!line.isEmpty() && !line.startsWith(key + "=")) {
        lines.add(line);
      }
    }
    lines.add(key + "=" + ShellQuote.quote(value));
    lines.sort(GoStrings.ORDER);
    StringBuilder out = new StringBuilder();
    for (String line : lines) {
      out.append(line).append('\n');
    }
    return out.toString().getBytes(StandardCharsets.UTF_8);
  }
}
