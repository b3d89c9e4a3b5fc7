package io.istiovmagent.daemon;

import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.install.InstallReport;
import io.istiovmagent.install.Installer;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.HostsEntry;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

/**
 * The bundle in force on disk: installing one (restored or fetched), keeping a DNS-only gateway's hosts entries
 * current, and putting back what someone else changed ({@link DriftRepair}). On the loop thread only.
 */
final class InstalledBundle {
  private final GatewayAddresses gateway;
  private final Log log;
  private final DriftRepair drift;
  private final String hostsWarning;
  private BundleKeeper.Listener listener = (report, first, token) -> {};
  private Installer installer;
  private VerifiedBundle current;
  private String source;
  private List<HostsEntry> hostsEntries = List.of();

  InstalledBundle(RootFs fs, GatewayAddresses gateway, Log log, Instant now) {
    this.gateway = gateway;
    this.log = log;
    this.drift = new DriftRepair(fs, log, now);
    this.hostsWarning = CloudInitHosts.warning(fs).orElse(null);
    if (hostsWarning != null) {
      log.warn(hostsWarning);
    }
  }

  void setListener(BundleKeeper.Listener listener) {
    this.listener = listener;
  }

  /** The installer of a (new) configuration; what is installed stays in force. */
  void use(Installer installer) {
    this.installer = installer;
  }

  /** The bundle in force; null before the first install. */
  VerifiedBundle current() {
    return current;
  }

  String source() {
    return source;
  }

  void install(VerifiedBundle b, String from, String verb, GatewayLookup lookup) throws IOException {
    List<HostsEntry> hosts = gateway.entriesFor(b, lookup, hostsEntries);
    InstallReport report = installer.install(b, from, hosts);
    report.warnings().forEach(log::warn);
    boolean first = current == null;
    current = b;
    source = from;
    hostsEntries = hosts;
    drift.stamp();
    if (report.changedAnything() || first) {
      log.info(verb + " bundle " + Installer.shortRevision(b.revision()) + " from " + from + ": "
          + report.changes().stream().filter(c -> c.action() != InstallReport.Action.UNCHANGED)
              .map(c -> c.action().label() + " " + c.path()).reduce((x, y) -> x + ", " + y).orElse("nothing changed"));
    }
    listener.installed(report, first,
        new String(b.raw().files().get(BundleFile.TOKEN), StandardCharsets.US_ASCII).strip());
  }

  /** A DNS-only gateway's addresses can change while the bundle does not: re-resolve on every successful check. */
  void refreshGatewayHosts(GatewayLookup lookup) throws IOException {
    if (current == null || !gateway.needed(current) || lookup == null) {
      return;
    }
    List<HostsEntry> fresh = gateway.entriesFor(current, lookup, hostsEntries);
    if (!fresh.equals(hostsEntries)) {
      hostsEntries = fresh;
      installer.syncHosts(fresh).ifPresent(r -> log.info("gateway " + gateway.name().get()
          + " resolves differently: " + r.change().detail()));
      drift.stamp();
    }
  }

  /** @return whether it compared the files in full (and so may have repaired something) */
  boolean checkDrift(Instant now) throws IOException {
    return current != null && drift.check(now, installer, current, source, hostsEntries);
  }

  AgentStatus.Hosts hostsStatus() {
    return new AgentStatus.Hosts(hostsEntries.size(), drift.hostsRepairs(), drift.lastHostsRepair(), hostsWarning);
  }
}
