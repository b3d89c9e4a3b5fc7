package io.istiovmagent.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/** Writes tar archives entry by entry, including the hostile kinds (links, devices, odd names) real tools avoid. */
public final class TarBuilder {
  private final ByteArrayOutputStream tar = new ByteArrayOutputStream();

  public TarBuilder file(String name, byte[] content) {
    return entry(name, '0', content, "");
  }

  public TarBuilder file(String name, String content) {
    return file(name, content.getBytes(StandardCharsets.UTF_8));
  }

  public TarBuilder dir(String name) {
    return entry(name, '5', new byte[0], "");
  }

  public TarBuilder entry(String name, char type, byte[] content, String link) {
    header(name, type, content.length, link, true);
    tar.writeBytes(content);
    tar.writeBytes(new byte[(512 - content.length % 512) % 512]);
    return this;
  }

  /** A header that declares a size with no content after it (for limit checks that must fire before reading). */
  public TarBuilder headerOnly(String name, long declaredSize) {
    header(name, '0', declaredSize, "", true);
    return this;
  }

  public TarBuilder corruptChecksum(String name) {
    header(name, '0', 0, "", false);
    return this;
  }

  private void header(String name, char type, long size, String link, boolean goodChecksum) {
    byte[] h = new byte[512];
    put(h, 0, name, 100);
    put(h, 100, "0000644", 8);
    put(h, 108, "0000000", 8);
    put(h, 116, "0000000", 8);
    put(h, 124, String.format("%011o", size), 12);
    put(h, 136, "00000000000", 12);
    h[156] = (byte) type;
    put(h, 157, link, 100);
    put(h, 257, "ustar", 6);
    h[263] = '0';
    h[264] = '0';
    java.util.Arrays.fill(h, 148, 156, (byte) ' ');
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", goodChecksum ? sum : sum + 1), 7);
    h[154] = 0;
    tar.writeBytes(h);
  }

  private static void put(byte[] h, int off, String s, int max) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(b, 0, h, off, Math.min(b.length, max));
  }

  public byte[] tar() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(tar.toByteArray());
    out.writeBytes(new byte[1024]);
    return out.toByteArray();
  }

  public byte[] gzip() {
    return gzip(tar());
  }

  public static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }
}
