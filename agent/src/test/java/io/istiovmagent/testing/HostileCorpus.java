package io.istiovmagent.testing;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The hostile-input corpus in src/test/resources/hostile (its README.md describes the layout): one file per case,
 * listed in index.tsv with the rule it breaks and a fragment of the message that must name it.
 */
public final class HostileCorpus {
  /** The groups whose case is one bundle file, put in place of that file in a good bundle. */
  public static final List<String> FILE_GROUPS =
      List.of("cluster.env", "sidecar.env", "istio-token", "root-cert.pem", "hosts", "mesh.yaml");

  /** One line of index.tsv: the case (its path under hostile/), the expected "FILE: RULE", a message fragment. */
  public record Case(String id, String fileAndRule, String fragment, String attack) {
    public String group() {
      return id.substring(0, id.indexOf('/'));
    }

    public Path path() {
      return root().resolve(id);
    }

    @Override
    public String toString() {
      return id;
    }
  }

  private HostileCorpus() {}

  public static Path root() {
    return FuzzSeeds.resourceDir("/hostile");
  }

  public static List<Case> index() {
    List<Case> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(root().resolve("index.tsv"), StandardCharsets.UTF_8)) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split("\t", -1);
        if (f.length != 4) {
          throw new IllegalStateException("index.tsv: not 4 tab-separated fields: " + line);
        }
        out.add(new Case(f[0], f[1], f[2], f[3]));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** Every case file of a group (or of all groups), sorted. */
  public static List<Path> files(String group) {
    try (Stream<Path> s = Files.list(root().resolve(group))) {
      return s.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A case file's bytes; a name ending in ".gz" (not ".tgz") is stored gzip'd because it is large. */
  public static byte[] content(Path p) {
    try {
      byte[] b = Files.readAllBytes(p);
      if (p.getFileName().toString().endsWith(".gz")) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(b))) {
          return in.readAllBytes();
        }
      }
      return b;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Lays the case out under {@code work} and returns the SOURCE to give the agent: a copy of the istioctl sample
   * with the case's file in place, the case's archive, or the sample changed by the case's steps.
   */
  public static String materialize(Case c, Path work) throws IOException {
    String group = c.group();
    Files.createDirectories(work);
    if (group.equals("archive")) {
      return Files.write(work.resolve("bundle.tgz"), content(c.path())).toString();
    }
    Path dir = Files.createDirectories(work.resolve("bundle"));
    for (String f : new String[] {"cluster.env", "mesh.yaml", "root-cert.pem", "istio-token", "hosts"}) {
      Files.write(dir.resolve(f), FuzzSeeds.resource("/istioctl-sample/" + f));
    }
    if (FILE_GROUPS.contains(group)) {
      Files.write(dir.resolve(group), content(c.path()));
    } else if (group.equals("directory")) {
      for (String step : Files.readAllLines(c.path(), StandardCharsets.UTF_8)) {
        if (!step.isBlank() && !step.startsWith("#")) {
          apply(step.strip().split(" ", 3), dir, work);
        }
      }
    } else {
      throw new IllegalStateException("unknown group " + group);
    }
    return dir.toString();
  }

  /** The steps of a directory case: what a hostile bundle directory can hold that a file cannot. */
  private static void apply(String[] s, Path dir, Path work) throws IOException {
    Path p = dir.resolve(s[1].replace("\\n", "\n")); // a name may hold a newline, written \n
    switch (s[0]) {
      case "remove" -> Files.delete(p);
      case "write" -> Files.writeString(p, (s.length > 2 ? s[2] : "") + "\n");
      case "mkdir" -> Files.createDirectory(p);
      case "symlink" -> {
        Files.deleteIfExists(p);
        Files.createSymbolicLink(p, Path.of(s[2]));
      }
      case "hardlink-outside" -> {
        // The same bytes, but the directory entry is a second name of a file that lives elsewhere.
        Path outside = work.resolve("outside-" + s[1]);
        Files.move(p, outside);
        Files.createLink(p, outside);
      }
      case "fifo" -> {
        Files.deleteIfExists(p);
        run("mkfifo", p.toString());
      }
      case "socket" -> {
        Files.deleteIfExists(p);
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
          ch.bind(UnixDomainSocketAddress.of(p));
        }
      }
      case "grow" -> {
        StringBuilder sb = new StringBuilder(Files.readString(p));
        long size = Long.parseLong(s[2]);
        while (sb.length() < size) {
          sb.append("# padding\n");
        }
        Files.writeString(p, sb);
      }
      case "many" -> {
        for (int i = 0; i < Integer.parseInt(s[2]); i++) {
          Files.writeString(dir.resolve(s[1] + i), "");
        }
      }
      default -> throw new IllegalStateException("unknown step " + String.join(" ", s));
    }
  }

  private static void run(String... cmd) throws IOException {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException(String.join(" ", cmd) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
