package io.istiovmagent.onboarding.mesh;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The WorkloadEntry the service keeps for one VM, made from its WorkloadGroup as istiod makes an auto-registered one
 * (facts §3.3), but named by the machine rather than its address, and health-checked by the service: a deep copy of
 * {@code spec.template}, the VM's address, labels (template ∪ {@code spec.metadata.labels}, the machine id added),
 * annotations ({@code spec.metadata.annotations} ∪ the health-checks annotation), and an owner reference to the
 * group, so that deleting the group deletes its entries. Pure: maps in, map out.
 */
public final class EntryPlan {
  static final String HEALTH_CHECKS = "proxy.istio.io/health-checks-enabled";
  public static final String MACHINE_LABEL = "istio-vm-agent.io/machine-id";
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
  /** The value of {@link #MANAGED_BY} on the service's entries: the label its informer selects them by. */
  public static final String MANAGER = "istio-vm-onboarding";
  /** A group may ask for the VM's IPv6 address rather than its first IPv4 one. */
  /**
   * On a WorkloadGroup's own metadata: {@code istiod} leaves registration to istiod's auto-registration (the bundle
   * sets ISTIO_META_AUTO_REGISTER_GROUP, the service creates no entry and keeps each VM's state in a Lease of its
   * own, {@link #stateLease}); anything else, or none, is the service's registration.
   */
  public static final String REGISTRATION = "istio-vm-agent.io/registration";
  /** On a VM's state Lease: its conditions as a WorkloadEntry's status would hold them (JSON). */
  public static final String CONDITIONS_ANNOTATION = "istio-vm-agent.io/conditions";
  public static final String FAMILY_ANNOTATION = "istio-vm-agent.io/address-family";
  private static final Pattern LITERAL = Pattern.compile("[0-9A-Fa-f:.]+");

  private EntryPlan() {}

  /** The entry's name: the group's and the machine's, stable across reinstalls of the agent and address changes. */
  public static String name(String group, String machineId) {
    return group + "-" + machineId;
  }

  /**
   * The address the mesh reaches the VM at, from what its agent reports: the first IPv4 address that is neither
   * loopback nor link-local, else the first such IPv6 one; a group annotated {@code
   * istio-vm-agent.io/address-family: ipv6} prefers IPv6. Names are not taken (an entry's address must be an IP
   * here); empty when the VM reports none.
   */
  public static Optional<String> address(List<String> reported, String family) {
    boolean v6First = "ipv6".equalsIgnoreCase(family);
    Optional<String> v4 = Optional.empty();
    Optional<String> v6 = Optional.empty();
    for (String a : reported == null ? List.<String>of() : reported) {
      Optional<InetAddress> ip = literal(a);
      if (ip.isEmpty() || ip.get().isLoopbackAddress() || ip.get().isLinkLocalAddress()
          || ip.get().isAnyLocalAddress() || ip.get().isMulticastAddress()) {
        continue;
      }
      if (ip.get() instanceof Inet4Address && v4.isEmpty()) {
        v4 = Optional.of(ip.get().getHostAddress());
      } else if (ip.get() instanceof Inet6Address && v6.isEmpty()) {
        v6 = Optional.of(a.contains("%") ? a.substring(0, a.indexOf('%')) : a);
      }
    }
    Optional<String> first = v6First ? v6 : v4;
    return first.isPresent() ? first : v6First ? v4 : v6;
  }

  /**
   * The entry for {@code machineId} in the group {@code group} (its object as the API returns it), at
   * {@code address}.
   */
  public static Map<String, Object> entry(Map<String, Object> group, String machineId, String address) {
    Map<String, Object> meta = map(group.get("metadata"));
    Map<String, Object> spec = map(group.get("spec"));
    Map<String, Object> template = deepCopy(map(spec.get("template")));
    Map<String, Object> specMeta = map(spec.get("metadata"));
    String groupName = (String) meta.get("name");
    String namespace = (String) meta.get("namespace");

    Map<String, String> labels = new TreeMap<>(strings(template.get("labels")));
    labels.putAll(strings(specMeta.get("labels")));
    labels.put(MACHINE_LABEL, machineId);
    labels.put(MANAGED_BY, MANAGER);
    Map<String, String> annotations = new TreeMap<>(strings(specMeta.get("annotations")));
    annotations.put(HEALTH_CHECKS, "true");

    template.remove("labels");
    Map<String, Object> entrySpec = new LinkedHashMap<>(template);
    entrySpec.put("address", address);
    entrySpec.put("labels", labels);

    Map<String, Object> entryMeta = new LinkedHashMap<>();
    entryMeta.put("name", name(groupName, machineId));
    entryMeta.put("namespace", namespace);
    entryMeta.put("labels", labels);
    entryMeta.put("annotations", annotations);
    entryMeta.put("ownerReferences", List.of(owner(group)));

    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("apiVersion", "networking.istio.io/v1");
    entry.put("kind", "WorkloadEntry");
    entry.put("metadata", entryMeta);
    entry.put("spec", entrySpec);
    return entry;
  }

  private static Optional<InetAddress> literal(String s) {
    if (s == null || s.isEmpty()) {
      return Optional.empty();
    }
    String bare = s.contains("%") ? s.substring(0, s.indexOf('%')) : s;
    if (!LITERAL.matcher(bare).matches() || !bare.contains(":") && bare.chars().filter(c -> c == '.').count() != 3) {
      return Optional.empty(); // not an IP literal: never a DNS lookup
    }
    try {
      return Optional.of(InetAddress.getByName(bare));
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  private static Map<String, String> strings(Object o) {
    Map<String, String> out = new TreeMap<>();
    if (o instanceof Map<?, ?> m) {
      m.forEach((k, v) -> {
        if (k instanceof String ks && v instanceof String vs) {
          out.put(ks, vs);
        }
      });
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> deepCopy(Map<String, Object> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((k, v) -> out.put(k, v instanceof Map<?, ?> inner ? deepCopy((Map<String, Object>) inner)
        : v instanceof List<?> l ? new ArrayList<>(l) : v));
    return out;
  }

  /**
   * The owner reference to the group, as istiod sets it on the entries it registers: the controller, so that
   * deleting the group deletes what it owns (no blockOwnerDeletion).
   */
  private static Map<String, Object> owner(Map<String, Object> group) {
    Map<String, Object> meta = map(group.get("metadata"));
    Map<String, Object> owner = new LinkedHashMap<>();
    owner.put("apiVersion", group.getOrDefault("apiVersion", "networking.istio.io/v1"));
    owner.put("kind", "WorkloadGroup");
    owner.put("name", meta.get("name"));
    owner.put("uid", meta.get("uid"));
    owner.put("controller", true);
    return owner;
  }

  /** Whether the group (its object as the API gives it) leaves registration to istiod. */
  public static boolean istiodRegisters(Map<String, Object> group) {
    return "istiod".equals(map(map(group.get("metadata")).get("annotations")).get(REGISTRATION));
  }

  /**
   * The Lease that keeps the state of a VM of a group istiod registers (istiod creates and deletes its entry on
   * connect and disconnect): named as the entry would be, in the group's namespace, labelled as an entry, owned by
   * the group; its holder is the machine. Its conditions are written later.
   */
  public static Map<String, Object> stateLease(Map<String, Object> group, String machineId) {
    Map<String, Object> meta = map(group.get("metadata"));
    String groupName = (String) meta.get("name");
    Map<String, String> labels = new TreeMap<>();
    labels.put(MACHINE_LABEL, machineId);
    labels.put(MANAGED_BY, MANAGER);
    Map<String, Object> leaseMeta = new LinkedHashMap<>();
    leaseMeta.put("name", name(groupName, machineId));
    leaseMeta.put("namespace", meta.get("namespace"));
    leaseMeta.put("labels", labels);
    leaseMeta.put("ownerReferences", List.of(owner(group)));
    Map<String, Object> lease = new LinkedHashMap<>();
    lease.put("apiVersion", "coordination.k8s.io/v1");
    lease.put("kind", "Lease");
    lease.put("metadata", leaseMeta);
    lease.put("spec", new LinkedHashMap<>(Map.of("holderIdentity", machineId)));
    return lease;
  }
}
