package io.istiovmagent.server;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.BundleFile;
import io.istiovmagent.bundle.DirectoryReader;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzWriter;
import io.istiovmagent.protocol.Revisions;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * The bundles under {@code DIR/<namespace>/<group>/}, as istioctl writes them. Each group's archive is cached and
 * built again when a stat shows any of its files (or the directory) changed, so re-running istioctl needs no
 * restart. A directory that {@link DirectoryReader} refuses is never served.
 */
final class BundleStore {
  /** One group's bundle as served: the archive and its strong ETag. */
  record Served(String revision, String etag, byte[] archive) {}

  /** What the store has for a group. */
  sealed interface Lookup {
    record Found(Served bundle) implements Lookup {}

    /** No directory for the group (yet): 404. */
    record Missing() implements Lookup {}

    /** The directory exists but cannot be served as it is: 503, and the operator has been told why in the log. */
    record Unavailable(String reason) implements Lookup {}
  }

  private record Cached(List<FileStamp> stamps, Lookup outcome) {}

  private final Path root;
  private final Log log;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();
  private final AtomicLong directoryReads = new AtomicLong();

  BundleStore(Path root, Log log) {
    this.root = root;
    this.log = log;
  }

  /** The group's bundle; {@code namespace} and {@code group} must already be DNS labels, or it is missing. */
  Lookup lookup(String namespace, String group) {
    if (!Names.isDnsLabel(namespace) || !Names.isDnsLabel(group)) {
      return new Lookup.Missing(); // never reached through the router; a second lock on the door
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
        return new Lookup.Missing();
      }
      Cached c = cache.get(key);
      if (c != null && c.stamps().equals(before)) {
        return c.outcome();
      }
      // Stamped without following links: a symbolic link is not a directory here, whatever it points to.
      Lookup outcome = !ns.directory() || !d.directory()
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

  private Lookup read(String key, Path dir) throws IOException {
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
    return new Lookup.Found(served);
  }

  private Lookup refuse(String key, String why) {
    log.warn("not serving bundle " + key + ": the directory " + why);
    return new Lookup.Unavailable(why);
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
