package io.istiovmagent.bundle;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Fails as soon as more than a set number of bytes has been read, so limits hold while reading. */
final class CappedStream extends FilterInputStream {
  /** Thrown when the cap is passed. */
  public static final class LimitExceeded extends IOException {
    LimitExceeded(long limit) {
      super("more than " + limit + " bytes", null);
    }
  }

  private final long limit;
  private long count;

  public CappedStream(InputStream in, long limit) {
    super(in);
    this.limit = limit;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      count(1);
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n > 0) {
      count(n);
    }
    return n;
  }

  /**
   * Asks for at most one byte past the cap: an inflating stream decompresses all it is asked to skip before it
   * returns, so an 8 GiB skip over a gzip bomb would inflate a gigabyte before the count could stop it.
   */
  @Override
  public long skip(long n) throws IOException {
    long s = super.skip(Math.min(n, limit - count + 1));
    if (s > 0) {
      count(s);
    }
    return s;
  }

  private void count(long n) throws LimitExceeded {
    count += n;
    if (count > limit) {
      throw new LimitExceeded(limit);
    }
  }

  /** Reads everything up to the cap. */
  public static byte[] readAll(InputStream in, long limit) throws IOException {
    try (CappedStream capped = new CappedStream(in, limit)) {
      return capped.readAllBytes();
    }
  }
}
