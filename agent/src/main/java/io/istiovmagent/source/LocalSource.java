package io.istiovmagent.source;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.DirectoryReader;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.bundle.TarGzReader;
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
      try (InputStream in = Files.newInputStream(path)) {
        return TarGzReader.readCapped(in, -1, path.toString());
      }
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
