package io.istiovmagent.server;

/** What a join token from the token file allows: one workload group's bundle and reports, or the VM list. */
sealed interface Grant {
  /** Fetch the bundle of, and report health for, exactly this namespace and group. */
  record Group(String namespace, String group) implements Grant {
    boolean covers(String ns, String g) {
      return namespace.equals(ns) && group.equals(g);
    }

    @Override
    public String toString() {
      return namespace + "/" + group;
    }
  }

  /** Read every VM's summary (GET /v1/vms); no bundle, no reports. */
  record Admin() implements Grant {
    @Override
    public String toString() {
      return "admin";
    }
  }
}
