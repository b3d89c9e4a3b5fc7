package io.istiovmagent.status;

import java.time.Instant;
import java.util.List;

/**
 * What the daemon knows about itself, written to status.json on every change and read by `status`. Holds no
 * secret: no token, no credential, no file content.
 */
public record AgentStatus(
    int format,
    long pid,
    String version,
    Instant startedAt,
    Instant updatedAt,
    Phase phase,
    Health health,
    List<String> reasons,
    Bundle bundle,
    Hosts hosts,
    Sidecar sidecar,
    LastError lastError,
    Instant nextRefreshAt,
    Report report) {

  public static final int FORMAT = 1;

  /** A list read as JSON null (another version's status.json, a hand edit) is an empty one, as a missing list is. */
  public AgentStatus {
    reasons = reasons == null ? List.of() : reasons;
  }

  /**
   * The same status with its timestamp cleared, to tell whether anything but the time changed (a delivered report
   * is a change: status shows when the last one went out).
   */
  public AgentStatus withoutTime() {
    return new AgentStatus(format, pid, version, startedAt, null, phase, health, reasons, bundle, hosts, sidecar,
        lastError, nextRefreshAt, report);
  }

  /** Where the daemon is in its life. */
  public enum Phase { WAITING_FOR_CONFIGURATION, WAITING_FOR_BUNDLE, RUNNING, STOPPING }

  /** The verdict a person or a control plane acts on. */
  public enum Health { HEALTHY, DEGRADED, UNHEALTHY, STOPPING }

  /**
   * The bundle in force. Null fields are unknown. {@code lastCheckedAt} is the last fetch that succeeded (200 or
   * 304); {@code confirmedAt} the last report answer that counted as a check (the report endpoint, at the source's
   * origin, said the installed revision is current) and so postponed the interval refresh. {@code credential} is
   * what the VM presents: its own credential, got by enrolling, or the join token (null for a local source).
   */
  public record Bundle(String source, String revision, String configRevision, Instant fetchedAt, Instant lastCheckedAt,
      boolean fromLastKnownGood, Instant tokenExpiresAt, Instant rootCertExpiresAt, String namespace,
      String serviceAccount, String workloadGroup, String clusterId, String network, Instant confirmedAt,
      String credential) {
    /** {@code credential}: what the VM presents to the source. */
    public static final String ENROLLED = "own credential (enrolled)";
    public static final String JOIN_TOKEN = "join token";
  }

  /** The managed block of /etc/hosts. */
  public record Hosts(int entries, int repairs, Instant lastRepairAt, String warning) {}

  /** istio.service as the agent sees it. */
  public record Sidecar(boolean managed, SidecarState state, long mainPid, long restarts, Boolean ready, String readiness,
      boolean crashLoop, List<String> diagnosis) {
    public Sidecar {
      diagnosis = diagnosis == null ? List.of() : diagnosis;
    }
  }

  /** Health reporting to the control plane; null when report.url is not set. */
  public record Report(String url, Instant lastDeliveredAt, long delivered, String lastError) {}

  /** The most recent failure, kept until the next success of the same kind. */
  public record LastError(Instant at, String message) {}
}
