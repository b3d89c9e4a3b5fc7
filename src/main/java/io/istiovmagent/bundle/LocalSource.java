package io.istiovmagent.bundle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/** A bundle on this machine: a directory of istioctl output, or a .tar.gz of it. */
final class LocalSource implements BundleSource {
  private final Path path;

  public LocalSource(Path path) {
    this.path = path;
  }

  @Override
  public FetchResult fetch(Optional<String> etag) throws SourceException, BadBundleException {
    return new FetchResult.Fetched(read(), Optional.empty(), Optional.empty());
  }

  private RawBundle read() throws SourceException, BadBundleException {
    try {
      if (Files.isDirectory(path)) {
        return DirectoryReader.read(path);
      }
      byte[] archive;
      try (InputStream in = Files.newInputStream(path)) {
        archive = CappedStream.readAll(in, BundleLimits.MAX_TOTAL_BYTES);
      } catch (CappedStream.LimitExceeded e) {
        throw TarGzReader.bad("size-limit", path + " is larger than " + BundleLimits.MAX_TOTAL_BYTES + " bytes");
      }
      return TarGzReader.read(archive);
    } catch (NoSuchFileException e) {
      throw new SourceException(SourceException.Kind.UNREACHABLE,
          path + " does not exist; give a directory of istioctl output or a .tar.gz of it");
    } catch (IOException e) {
      throw new SourceException(SourceException.Kind.UNREACHABLE, "cannot read " + path + ": " + e.getMessage(),
          null, e);
    }
  }

  @Override
  public String describe() {
    return path.toString();
  }
}
