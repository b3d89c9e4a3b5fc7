package io.istiovmagent.testing;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** Seed inputs for the fuzz targets, from the test resources: the istioctl sample and the hostile corpus. */
public final class FuzzSeeds {
  /** libFuzzer mutates small inputs best; the large hostile cases are for HostileInputTest. */
  public static final int MAX_SEED = 64 * 1024;

  private FuzzSeeds() {}

  public static Stream<byte[]> sample(String file) {
    return Stream.of(resource("/istioctl-sample/" + file));
  }

  /** Every case file under hostile/GROUP, inflated if stored gzip'd (".gz"), at most {@link #MAX_SEED} bytes. */
  public static Stream<byte[]> hostile(String group) {
    List<byte[]> out = new ArrayList<>();
    for (Path p : HostileCorpus.files(group)) {
      byte[] b = HostileCorpus.content(p);
      if (b.length <= MAX_SEED) {
        out.add(b);
      }
    }
    return out.stream();
  }

  @SafeVarargs
  public static Stream<byte[]> concat(Stream<byte[]>... streams) {
    return Stream.of(streams).flatMap(s -> s);
  }

  /** A JWT's header and payload, decoded, as HEADER NEWLINE PAYLOAD; null if it is not one. */
  public static byte[] decodedJwt(byte[] token) {
    String[] parts = new String(token, StandardCharsets.UTF_8).strip().split("\\.");
    if (parts.length < 2) {
      return null;
    }
    try {
      Base64.Decoder d = Base64.getUrlDecoder();
      byte[] h = d.decode(parts[0].replace("=", ""));
      byte[] p = d.decode(parts[1].replace("=", ""));
      byte[] out = new byte[h.length + 1 + p.length];
      System.arraycopy(h, 0, out, 0, h.length);
      out[h.length] = '\n';
      System.arraycopy(p, 0, out, h.length + 1, p.length);
      return out;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The first {@link #MAX_SEED} bytes a gzip stream inflates to (as far as it is readable); null if none. */
  public static byte[] gunzipSmall(byte[] gz) {
    byte[] buf = new byte[MAX_SEED];
    int n = 0;
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      int r;
      while (n < buf.length && (r = in.read(buf, n, buf.length - n)) > 0) {
        n += r;
      }
    } catch (IOException e) {
      // keep what was readable: a truncated archive is a good seed too
    }
    return n == 0 ? null : java.util.Arrays.copyOf(buf, n);
  }

  static byte[] resource(String name) {
    try (InputStream in = FuzzSeeds.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Path resourceDir(String name) {
    URL url = FuzzSeeds.class.getResource(name);
    if (url == null) {
      throw new IllegalStateException("no resource directory " + name);
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
