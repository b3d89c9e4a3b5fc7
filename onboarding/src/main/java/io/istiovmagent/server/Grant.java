package io.istiovmagent.server;

/**
 * What a presented credential allows: one workload group's bundle and reports (a join token of the token file, or a
 * VM's own credential, which also binds the reports to its machine), or the VM list.
 */
public sealed interface Grant {
  /** Fetch the bundle of, and report health for, exactly one namespace and group. */
  sealed interface Workload extends Grant {
    String namespace();

    String group();

    default boolean covers(String ns, String g) {
      return namespace().equals(ns) && group().equals(g);
    }
  }

  /** The machine a grant is bound to: a VM's own credential names it, a join token does not. */
  static java.util.Optional<String> machineOf(Workload grant) {
    return grant instanceof Vm vm ? java.util.Optional.of(vm.machineId()) : java.util.Optional.empty();
  }

  /** A join token of the token file: any VM of the group. */
  record Group(String namespace, String group) implements Workload {
    @Override
    public String toString() {
      return namespace + "/" + group;
    }
  }

  /** A VM's own credential: its group, and reports about this machine only. */
  record Vm(String namespace, String group, String machineId) implements Workload {
    @Override
    public String toString() {
      return namespace + "/" + group + " (machine " + machineId + ")";
    }
  }

  /** Read every VM's summary (GET /v1/vms) and deregister any VM (DELETE /v1/vms/...); no bundle, no reports. */
  record Admin() implements Grant {
    @Override
    public String toString() {
      return "admin";
    }
  }
}
