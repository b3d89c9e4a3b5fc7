package io.istiovmagent.bundle;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads a bundle from a gzip'd tar, strictly: regular files with known names, at the top level or under one
 * directory; no links, devices, absolute or {@code ..} paths, or duplicates. Sizes are checked from each header
 * before content is read, and the decompressed stream is capped, so a gzip bomb stops early.
 *
 * <p>Hand-written rather than a general tar library: the rules are ours, every error must become a
 * {@link Problem}, and this parser sees untrusted bytes.
 */
public final class TarGzReader {
  private static final String WHERE = "archive";
  private static final int BLOCK = 512;
  /** Room for headers and padding on top of the content limit. */
  private static final long MAX_TAR_BYTES = BundleLimits.MAX_TOTAL_BYTES
      + (long) BundleLimits.MAX_ARCHIVE_ENTRIES * 2 * BLOCK + 2 * BLOCK;
  private static final int MAX_EXTENDED_HEADER = 8 * 1024;

  private TarGzReader() {}

  /** Parses an archive held in memory (at most {@link BundleLimits#MAX_TOTAL_BYTES}). */
  public static RawBundle read(byte[] gzipped) throws BadBundleException {
    if (gzipped.length < 2 || (gzipped[0] & 0xff) != 0x1f || (gzipped[1] & 0xff) != 0x8b) {
      throw bad("not-gzip", "is not gzip data (it should be a .tar.gz" + describeStart(gzipped) + ")");
    }
    try (InputStream in = new CappedStream(new GZIPInputStream(new ByteArrayInputStream(gzipped)), MAX_TAR_BYTES)) {
      return new TarGzReader.Parser(in).parse();
    } catch (ZipException e) {
      throw bad("corrupt-gzip", "gzip data is corrupt (" + e.getMessage() + ")");
    } catch (CappedStream.LimitExceeded e) {
      throw bad("size-limit", "decompresses to more than " + MAX_TAR_BYTES + " bytes");
    } catch (java.io.EOFException e) {
      throw bad("truncated", "ends before its end (truncated download?)");
    } catch (IOException e) {
      throw bad("corrupt-archive", "cannot be read (" + e.getMessage() + ")");
    }
  }

  private static String describeStart(byte[] b) {
    String head = new String(b, 0, Math.min(b.length, 64), StandardCharsets.ISO_8859_1).trim().toLowerCase(Locale.ROOT);
    if (head.startsWith("<!doctype html") || head.startsWith("<html")) {
      return "; got an HTML page";
    }
    if (head.startsWith("{") || head.startsWith("[")) {
      return "; got JSON";
    }
    return "";
  }

  /**
   * Reads a .tar.gz of at most {@link BundleLimits#MAX_TOTAL_BYTES} from {@code in} and parses it; {@code what} names
   * the archive in the error ("the response", a path). A declared length ({@code -1}: unknown) over the limit is
   * refused before a byte is read.
   */
  public static RawBundle readCapped(InputStream in, long declaredLength, String what)
      throws IOException, BadBundleException {
    if (declaredLength > BundleLimits.MAX_TOTAL_BYTES) {
      throw bad("size-limit", what + " is " + declaredLength + " bytes; the limit is " + BundleLimits.MAX_TOTAL_BYTES);
    }
    byte[] archive;
    try {
      archive = CappedStream.readAll(in, BundleLimits.MAX_TOTAL_BYTES);
    } catch (CappedStream.LimitExceeded e) {
      throw bad("size-limit", what + " is larger than " + BundleLimits.MAX_TOTAL_BYTES + " bytes");
    }
    return read(archive);
  }

  static BadBundleException bad(String rule, String message) {
    return new BadBundleException(new Problem(WHERE, rule, message));
  }

  private static final class Parser {
    private final InputStream in;
    private final BundleFilesCollector files = new BundleFilesCollector(WHERE);
    private final byte[] header = new byte[BLOCK];
    private String topDir; // null until decided; "" = top level
    private String pendingName;
    private int entries;

    Parser(InputStream in) {
      this.in = in;
    }

    RawBundle parse() throws IOException, BadBundleException {
      while (true) {
        if (!readBlock(header)) {
          break; // clean end of data without the two zero blocks, as some writers do
        }
        if (allZero(header)) {
          break;
        }
        if (++entries > BundleLimits.MAX_ARCHIVE_ENTRIES) {
          throw bad("too-many-entries", "has more than " + BundleLimits.MAX_ARCHIVE_ENTRIES + " entries");
        }
        checkChecksum();
        char type = (char) (header[156] & 0xff);
        long size = parseSize();
        String name = pendingName != null ? pendingName : headerName();
        pendingName = null;
        switch (type) {
          case '0', '\0', '7' -> regularFile(name, size);
          case '5' -> directory(name, size);
          case 'x' -> pendingName = paxPath(readSmall(size, "extended header"));
          case 'g' -> readSmall(size, "global extended header");
          case 'L' -> pendingName = cString(readSmall(size, "long name"));
          case '1', '2' -> throw bad("link", "'" + p(name) + "' is a link; a bundle holds regular files only");
          case '3', '4', '6' -> throw bad("special-file",
              "'" + p(name) + "' is a device or FIFO; a bundle holds regular files only");
          default -> throw bad("entry-type", "'" + p(name) + "' has unsupported tar entry type '" + p(String.valueOf(type)) + "'");
        }
      }
      if (pendingName != null) {
        throw bad("truncated", "ends after an extended header with no entry");
      }
      return files.build();
    }

    private void regularFile(String rawName, long size) throws IOException, BadBundleException {
      String[] parts = splitPath(rawName);
      String base;
      if (parts.length == 1) {
        placeAt("", rawName);
        base = parts[0];
      } else if (parts.length == 2) {
        placeAt(parts[0], rawName);
        base = parts[1];
      } else {
        throw bad("nested-path", "'" + p(rawName) + "' is nested too deep; files go at the top level or under one directory");
      }
      BundleFile f = files.admit(base, size);
      byte[] content = in.readNBytes((int) size);
      if (content.length != size) {
        throw new java.io.EOFException();
      }
      skipPadding(size);
      files.add(f, content);
    }

    private void directory(String rawName, long size) throws IOException, BadBundleException {
      String[] parts = splitPath(rawName);
      if (parts.length > 1) {
        throw bad("nested-path", "directory '" + p(rawName) + "' is nested; files go at the top level or under one directory");
      }
      if (size != 0) {
        skip(size);
        skipPadding(size);
      }
    }

    /** All files must share one place: all at the top level, or all under the same single directory. */
    private void placeAt(String dir, String rawName) throws BadBundleException {
      if (topDir == null) {
        topDir = dir;
      } else if (!topDir.equals(dir)) {
        throw bad("mixed-directories", "'" + p(rawName) + "' is not beside the other files; files go at the top "
            + "level or under one directory");
      }
    }

    /** Splits a member name, dropping "." components; refuses absolute, ".." and odd names. */
    private static String[] splitPath(String name) throws BadBundleException {
      if (name.isEmpty()) {
        throw bad("bad-path", "an entry has an empty name");
      }
      if (name.startsWith("/")) {
        throw bad("absolute-path", "'" + p(name) + "' is an absolute path");
      }
      for (int i = 0; i < name.length(); i++) {
        char c = name.charAt(i);
        if (c < 0x20 || c == 0x7f || c == '\\') {
          throw bad("bad-path", "'" + p(name) + "' contains a control character or backslash");
        }
      }
      java.util.List<String> out = new java.util.ArrayList<>();
      for (String part : name.split("/")) {
        if (part.isEmpty() || part.equals(".")) {
          continue;
        }
        if (part.equals("..")) {
          throw bad("parent-path", "'" + p(name) + "' contains '..'");
        }
        out.add(part);
      }
      return out.toArray(new String[0]);
    }

    private String headerName() {
      String name = cString(header, 0, 100);
      if (isUstar()) {
        String prefix = cString(header, 345, 155);
        if (!prefix.isEmpty()) {
          name = prefix + "/" + name;
        }
      }
      return name;
    }

    private boolean isUstar() {
      return header[257] == 'u' && header[258] == 's' && header[259] == 't' && header[260] == 'a'
          && header[261] == 'r';
    }

    private void checkChecksum() throws BadBundleException {
      long expected = parseOctal(148, 8, "checksum");
      long sum = 0;
      for (int i = 0; i < BLOCK; i++) {
        sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
      }
      if (sum != expected) {
        throw bad("corrupt-archive", "a tar header's checksum does not match (corrupt or not a tar file)");
      }
    }

    private long parseSize() throws BadBundleException {
      if ((header[124] & 0x80) != 0) {
        throw bad("size-limit", "an entry declares a size in base-256, far beyond the bundle limit");
      }
      return parseOctal(124, 12, "size");
    }

    private long parseOctal(int off, int len, String field) throws BadBundleException {
      long v = 0;
      int i = off;
      int end = off + len;
      while (i < end && (header[i] == ' ' || header[i] == 0)) {
        i++;
      }
      boolean any = false;
      for (; i < end; i++) {
        byte b = header[i];
        if (b == 0 || b == ' ') {
          break;
        }
        if (b < '0' || b > '7') {
          throw bad("corrupt-archive", "a tar header's " + field + " field is not octal (not a tar file?)");
        }
        v = (v << 3) | (b - '0');
        any = true;
      }
      if (!any && field.equals("checksum")) {
        throw bad("corrupt-archive", "a tar header has no checksum (not a tar file?)");
      }
      return v;
    }

    private byte[] readSmall(long size, String what) throws IOException, BadBundleException {
      if (size > MAX_EXTENDED_HEADER) {
        throw bad("size-limit", "a tar " + what + " is " + size + " bytes; the limit is " + MAX_EXTENDED_HEADER);
      }
      byte[] b = in.readNBytes((int) size);
      if (b.length != size) {
        throw new java.io.EOFException();
      }
      skipPadding(size);
      return b;
    }

    /** PAX records are "LEN key=value\n"; only the path matters to us, the rest (times, owners) is ignored. */
    private static String paxPath(byte[] data) throws BadBundleException {
      String path = null;
      int i = 0;
      while (i < data.length) {
        int sp = i;
        while (sp < data.length && data[sp] >= '0' && data[sp] <= '9') {
          sp++;
        }
        if (sp == i || sp >= data.length || data[sp] != ' ' || sp - i > 6) {
          throw bad("corrupt-archive", "a PAX extended header is malformed");
        }
        int len = Integer.parseInt(new String(data, i, sp - i, StandardCharsets.US_ASCII));
        int end = i + len;
        if (len <= sp - i + 1 || end > data.length || data[end - 1] != '\n') {
          throw bad("corrupt-archive", "a PAX extended header record has a wrong length");
        }
        String record = new String(data, sp + 1, end - sp - 2, StandardCharsets.UTF_8);
        int eq = record.indexOf('=');
        if (eq <= 0) {
          throw bad("corrupt-archive", "a PAX extended header record has no '='");
        }
        String key = record.substring(0, eq);
        if (key.equals("path")) {
          path = record.substring(eq + 1);
        } else if (key.equals("linkpath")) {
          throw bad("link", "an entry is a link; a bundle holds regular files only");
        }
        i = end;
      }
      return path;
    }

    private boolean readBlock(byte[] block) throws IOException {
      int n = in.readNBytes(block, 0, BLOCK);
      if (n == 0) {
        return false;
      }
      if (n != BLOCK) {
        throw new java.io.EOFException();
      }
      return true;
    }

    private void skipPadding(long size) throws IOException {
      long rem = size % BLOCK;
      if (rem != 0) {
        skip(BLOCK - rem);
      }
    }

    /** Throws EOFException when the stream ends first. */
    private void skip(long n) throws IOException {
      in.skipNBytes(n);
    }

    private static boolean allZero(byte[] b) {
      for (byte x : b) {
        if (x != 0) {
          return false;
        }
      }
      return true;
    }

    private static String cString(byte[] b) {
      return cString(b, 0, b.length);
    }

    private static String cString(byte[] b, int off, int len) {
      int end = off;
      while (end < off + len && b[end] != 0) {
        end++;
      }
      return new String(b, off, end - off, StandardCharsets.UTF_8);
    }

    private static String p(String s) {
      return BundleFilesCollector.printable(s);
    }
  }
}
