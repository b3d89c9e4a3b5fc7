package io.istiovmagent.report;

import io.istiovmagent.fs.RootFs;
import io.istiovmagent.protocol.HealthReport.Host;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/** Who this VM is: hostname and machine-id read under the root, and this machine's non-loopback addresses. */
public final class HostInfo {
  private HostInfo() {}

  public static Host read(RootFs fs) {
    return new Host(hostname(fs), firstLine(fs.lexical("/etc/machine-id")), addresses());
  }

  /** The first line of /etc/machine-id under the root; empty when there is none. Not checked: callers decide. */
  public static Optional<String> machineId(RootFs fs) {
    return Optional.ofNullable(firstLine(fs.lexical("/etc/machine-id")));
  }

  private static String hostname(RootFs fs) {
    String h = firstLine(fs.lexical("/etc/hostname"));
    if (h != null) {
      return h;
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return null;
    }
  }

  private static String firstLine(Path p) {
    try {
      if (!Files.isRegularFile(p)) {
        return null;
      }
      String s = Files.readString(p).strip();
      int nl = s.indexOf('\n');
      String line = nl < 0 ? s : s.substring(0, nl).strip();
      return line.isEmpty() || line.length() > 255 ? null : line;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Up, non-loopback, non-link-local addresses, sorted: what an operator would use to reach the VM. */
  static List<String> addresses() {
    List<String> out = new ArrayList<>();
    try {
      for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!ni.isUp() || ni.isLoopback()) {
          continue;
        }
        for (InetAddress a : Collections.list(ni.getInetAddresses())) {
          if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isAnyLocalAddress()) {
            continue;
          }
          String text = a.getHostAddress();
          out.add(a instanceof Inet6Address ? text.replaceAll("%.*$", "") : text);
        }
      }
    } catch (SocketException e) {
      return List.of();
    }
    Collections.sort(out);
    return List.copyOf(out);
  }
}
