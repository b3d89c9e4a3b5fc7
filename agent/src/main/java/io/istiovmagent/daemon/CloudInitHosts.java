package io.istiovmagent.daemon;

import io.istiovmagent.fs.RootFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * cloud-init's update_etc_hosts module renders /etc/hosts from a template at every boot when manage_etc_hosts is
 * set, dropping the agent's block. The agent restores the block either way, but says once how to stop the churn.
 */
final class CloudInitHosts {
  private static final Pattern MANAGED = Pattern.compile("(?m)^\\s*manage_etc_hosts\\s*:\\s*['\"]?(true|True|localhost|template)");

  private CloudInitHosts() {}

  public static Optional<String> warning(RootFs fs) {
    List<Path> files = new ArrayList<>();
    files.add(fs.lexical("/etc/cloud/cloud.cfg"));
    Path dropins = fs.lexical("/etc/cloud/cloud.cfg.d");
    if (Files.isDirectory(dropins)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dropins, "*.cfg")) {
        ds.forEach(files::add);
      } catch (IOException e) {
        return Optional.empty();
      }
    }
    for (Path f : files) {
      try {
        if (Files.isRegularFile(f) && MANAGED.matcher(Files.readString(f, StandardCharsets.UTF_8)).find()) {
          return Optional.of("cloud-init manages /etc/hosts (manage_etc_hosts in " + fs.display(f) + ") and rewrites "
              + "it at boot; the agent restores its block, but to stop the churn set 'manage_etc_hosts: false' or add "
              + "the block to /etc/cloud/templates/hosts.debian.tmpl");
        }
      } catch (IOException | RuntimeException e) {
        // An unreadable cloud-init file is not ours to judge; no warning.
      }
    }
    return Optional.empty();
  }
}
