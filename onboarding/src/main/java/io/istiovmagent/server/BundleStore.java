package io.istiovmagent.server;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.DirectoryReader;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.protocol.HealthReport;
import io.istiovmagent.protocol.Revisions;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * The bundles under {@code DIR/<namespace>/<group>/}, as istioctl writes them. Each group's archive is cached and
 * built again when a stat shows any of its files (or the directory) changed, so re-running istioctl needs no
 * restart. A directory that {@link DirectoryReader} refuses is never served.
 */
final class BundleStore implements BundleProvider {
  /** A refused directory is the operator's to fix; retrying every second would not help. */
  static final long RETRY_REFUSED_SECONDS = 30;

  /** One group's bundle as served: the archive and its strong ETag. */
  record Served(String revision, String etag, byte[] archive) {}

  /** What the store has for a group. */
  private sealed interface Outcome {
    record Found(Served bundle) implements Outcome {}

    /** No directory for the group (yet): 404. */
    record Missing() implements Outcome {}

    /** The directory exists but cannot be served as it is: 503, and the operator has been told why in the log. */
    record Unavailable(String reason) implements Outcome {}
  }

  private record Cached(List<FileStamp> stamps, Outcome outcome) {}

  private final Path root;
  private final Log log;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();
  private final AtomicLong directoryReads = new AtomicLong();

  BundleStore(Path root, Log log) {
    this.root = root;
    this.log = log;
  }

  @Override
  public Lookup lookup(String namespace, String group, List<String> ifNoneMatch) {
    String name = namespace + "/" + group;
    Outcome found = outcome(namespace, group);
    if (found instanceof Outcome.Missing) {
      return new Lookup.Missing("no bundle for " + name + " yet; the operator writes it with istioctl x workload "
          + "entry configure -o <bundle directory>/" + name);
    }
    if (found instanceof Outcome.Unavailable) {
      // The reason names server paths; the operator has it in the log, the VM only needs to retry later.
      return new Lookup.Unavailable("the bundle for " + name + " cannot be served right now; the endpoint's log "
          + "says why", RETRY_REFUSED_SECONDS);
    }
    Served b = ((Outcome.Found) found).bundle();
    return BundleEndpoint.matches(ifNoneMatch, b.etag()) ? new Lookup.NotModified(b.etag())
        : new Lookup.Found(b.etag(), b.archive());
  }

  /**
   * True when the group's current bundle is not the one the VM says it has (e.g. istioctl was run again); false when
   * it is. Empty when there is no bundle for the group: nothing better to fetch, and nothing to confirm either (a
   * fetch would get 404, which the agent should learn by its own schedule).
   */
  @Override
  public Optional<Boolean> changed(String namespace, String group, HealthReport.Bundle has) {
    if (!(outcome(namespace, group) instanceof Outcome.Found found)) {
      return Optional.empty();
    }
    String revision = has == null ? null : has.revision();
    return Optional.of(revision == null || !Revisions.same(revision, found.bundle().revision()));
  }

  @Override
  public String describe() {
    return "bundles from " + root;
  }

  /** The group's bundle; {@code namespace} and {@code group} must already be DNS labels, or it is missing. */
  private Outcome outcome(String namespace, String group) {
    if (!Names.isDnsLabel(namespace) || !Names.isDnsLabel(group)) {
      return new Outcome.Missing(); // never reached through the router; a second lock on the door
    }
    String key = namespace + "/" + group;
    Path nsDir = root.resolve(namespace);
    Path dir = nsDir.resolve(group);
    try {
      List<FileStamp> before = stamps(nsDir, dir);
      FileStamp ns = before.get(0);
      FileStamp d = before.get(1);
      if (!ns.exists() || !d.exists()) {
        cache.remove(key);
        return new Outcome.Missing();
      }
      Cached c = cache.get(key);
      if (c != null && c.stamps().equals(before)) {
        return c.outcome();
      }
      // Stamped without following links: a symbolic link is not a directory here, whatever it points to.
      Outcome outcome = !ns.directory() || !d.directory()
          ? refuse(key, (ns.link() || d.link() ? "is or lies under a symbolic link" : "is not a directory")
              + "; put istioctl's output in a plain directory " + dir)
          : read(key, dir);
      if (stamps(nsDir, dir).equals(before)) {
        cache.put(key, new Cached(before, outcome)); // unchanged while read: the outcome belongs to these stamps
      }
      return outcome;
    } catch (IOException e) {
      return refuse(key, "cannot be read: " + e.getMessage());
    }
  }

  /** How many times a bundle directory's content was read; tests prove the cache and the path checks with it. */
  long directoryReads() {
    return directoryReads.get();
  }

  private Outcome read(String key, Path dir) throws IOException {
    directoryReads.incrementAndGet();
    RawBundle raw;
    try {
      raw = DirectoryReader.read(dir);
    } catch (BadBundleException e) {
      return refuse(key, "was refused: " + e.problems().stream().map(Problem::format)
          .collect(Collectors.joining("; ")));
    }
    List<String> missing = new ArrayList<>();
    for (BundleFile f : BundleFile.values()) {
      if (f.required() && !raw.has(f)) {
        missing.add(f.fileName());
      }
    }
    if (!missing.isEmpty()) {
      return refuse(key, "lacks " + String.join(", ", missing)
          + "; run istioctl x workload entry configure -o " + dir + " again");
    }
    Served served = new Served(raw.revision(), Revisions.etag(raw.revision()), TarGzWriter.write(raw.files()));
    log.info("serving bundle " + key + " revision " + raw.revision());
    return new Outcome.Found(served);
  }

  private Outcome refuse(String key, String why) {
    log.warn("not serving bundle " + key + ": the directory " + why);
    return new Outcome.Unavailable(why);
  }

  /** The namespace and group directories themselves, then every name a bundle may hold, none followed. */
  private static List<FileStamp> stamps(Path nsDir, Path dir) throws IOException {
    List<FileStamp> out = new ArrayList<>(2 + BundleFile.values().length);
    out.add(FileStamp.of(nsDir, false));
    FileStamp d = FileStamp.of(dir, false);
    out.add(d);
    if (d.directory()) {
      for (BundleFile f : BundleFile.values()) {
        out.add(FileStamp.of(dir.resolve(f.fileName()), false));
      }
    }
    return out;
  }
}
