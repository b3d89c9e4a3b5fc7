package io.istiovmagent.server;

import io.istiovmagent.protocol.HealthReport;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the endpoint's bundles come from: a directory of istioctl output ({@link BundleStore}), or the cluster
 * itself (the Kubernetes mode). The endpoint authenticates and authorises; a provider is asked only about the
 * group the caller may see.
 */
public interface BundleProvider {
  /** The group's bundle for a caller that holds the entity tags in {@code ifNoneMatch} (the header's values). */
  Lookup lookup(String namespace, String group, List<String> ifNoneMatch);

  /**
   * The bundle for one VM, {@code machineId} when its own credential names it: a provider may make it for that VM
   * (name its WorkloadEntry); by default every VM of the group gets the group's.
   */
  default Lookup lookup(String namespace, String group, Optional<String> machineId, List<String> ifNoneMatch) {
    return lookup(namespace, group, ifNoneMatch);
  }

  /**
   * The hint for a VM that reported holding {@code has} (null when it named none): true when it should fetch now,
   * false when what it holds is the group's current bundle (the agent counts that as a check), empty when the
   * provider cannot tell, which changes nothing at the agent.
   */
  Optional<Boolean> changed(String namespace, String group, HealthReport.Bundle has);

  /** {@link #changed} for one VM's bundle (see {@link #lookup(String, String, Optional, List)}). */
  default Optional<Boolean> changed(String namespace, String group, Optional<String> machineId,
      HealthReport.Bundle has) {
    return changed(namespace, group, has);
  }

  /** Where bundles come from, for the start-up log line. */
  String describe();

  /**
   * Groups whose bundle cannot be made now, {@code NAMESPACE/GROUP} to why (what is missing or forbidden), for
   * operators (GET /v1/vms). Never a secret.
   */
  default Map<String, String> problems() {
    return Map.of();
  }

  /** Releases what the provider holds (a client, its threads); the server calls it once, when it stops. */
  default void close() {}

  /** The answer to a bundle request. Reasons go to the VM: they name what is missing, never a secret. */
  sealed interface Lookup {
    /** 200: the archive, with its strong ETag. */
    record Found(String etag, byte[] archive) implements Lookup {
      public Found {
        Objects.requireNonNull(etag, "etag == null");
        Objects.requireNonNull(archive, "archive == null");
      }
    }

    /** 304: what the caller holds is current. */
    record NotModified(String etag) implements Lookup {}

    /** 404: nothing to serve for this group; {@code reason} says what the operator has to create. */
    record Missing(String reason) implements Lookup {}

    /** 503: the bundle cannot be made now; retried after {@code retryAfterSeconds}. */
    record Unavailable(String reason, long retryAfterSeconds) implements Lookup {}
  }
}
