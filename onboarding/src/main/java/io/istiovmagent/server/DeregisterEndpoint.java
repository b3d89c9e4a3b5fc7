package io.istiovmagent.server;

import io.istiovmagent.util.Log;
import java.util.Optional;

/**
 * DELETE /v1/vms/{namespace}/{group}/{machineId}: a VM leaves (its package is removed). The VM's own credential may
 * deregister that VM, an admin token any VM; a join token none, since every VM of the group holds it. The VM is
 * forgotten here (GET /v1/vms) and by the sink (its WorkloadEntry). Idempotent: 204 whether anything was there or
 * not, so a retry after a lost answer is harmless.
 */
final class DeregisterEndpoint {
  /** When the cluster could not be asked: about what a brief API server outage or an RBAC fix takes. */
  static final long RETRY_AFTER_SECONDS = 15;

  private final VmRegistry registry;
  private final Optional<HealthSink> sink;
  private final Log log;

  DeregisterEndpoint(VmRegistry registry, Optional<HealthSink> sink, Log log) {
    this.registry = registry;
    this.sink = sink;
    this.log = log;
  }

  /** The path's parts are checked by the router: DNS labels and 32 hexadecimal digits. */
  Response delete(Grant grant, String namespace, String group, String machineId) {
    String vm = "machine " + Names.printable(machineId, 32) + " of " + Names.printable(namespace, 63) + "/"
        + Names.printable(group, 63);
    String by;
    if (grant instanceof Grant.Admin) {
      by = "an admin token";
    } else if (grant instanceof Grant.Vm v) {
      if (!v.covers(namespace, group) || !v.machineId().equals(machineId)) {
        return Response.error(403, "this credential is machine " + v.machineId() + "'s of " + v.namespace() + "/"
            + v.group() + "; a VM deregisters itself only, not " + vm);
      }
      by = "its own credential";
    } else {
      return Response.error(403, "a join token cannot deregister a VM (every VM of the group holds it): a VM "
          + "deregisters with its own credential, which it gets by enrolling first (POST /v1/enroll/{namespace}/"
          + "{group}); an operator uses an admin token");
    }
    HealthSink.Deregistration outcome = sink.map(s -> s.deregister(namespace, group, machineId))
        .orElse(new HealthSink.Deregistration.Absent());
    if (outcome instanceof HealthSink.Deregistration.Unavailable u) {
      // The VM stays listed: it is still registered in the cluster.
      log.warn("cannot deregister " + vm + " now: " + u.reason());
      return Response.unavailable("cannot deregister " + vm + " now: " + u.reason() + "; retry after the "
          + "Retry-After seconds", RETRY_AFTER_SECONDS);
    }
    boolean forgotten = registry.forget(new VmRegistry.Key(namespace, group, machineId));
    boolean removed = forgotten || outcome instanceof HealthSink.Deregistration.Removed;
    log.notice("deregistered " + vm + " at the request of " + by
        + (removed ? "" : " (nothing was registered for it: never, or deregistered before)"));
    return Response.noContent();
  }
}
