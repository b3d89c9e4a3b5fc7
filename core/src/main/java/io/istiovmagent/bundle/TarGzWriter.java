package io.istiovmagent.bundle;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Writes bundle files as a gzip'd ustar archive, the way `tar czf` of istioctl's output directory would. */
public final class TarGzWriter {
  private TarGzWriter() {}

  public static byte[] write(Map<BundleFile, byte[]> files) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      for (Map.Entry<BundleFile, byte[]> e : files.entrySet()) {
        writeEntry(gz, e.getKey().fileName(), e.getValue());
      }
      gz.write(new byte[1024]);
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
    return bytes.toByteArray();
  }

  private static void writeEntry(OutputStream out, String name, byte[] content) throws IOException {
    byte[] h = new byte[512];
    put(h, 0, name);
    put(h, 100, "0000644");
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", content.length));
    put(h, 136, String.format("%011o", 0));
    h[156] = '0';
    put(h, 257, "ustar");
    h[263] = '0';
    h[264] = '0';
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    h[155] = ' ';
    out.write(h);
    out.write(content);
    int pad = (512 - content.length % 512) % 512;
    out.write(new byte[pad]);
  }

  private static void put(byte[] h, int off, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, off, b.length);
  }
}
