package io.istiovmagent.onboarding;

import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerConfigException;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.util.Durations;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Run the reference onboarding endpoint (docs/protocol.md) over HTTPS: hand each workload group's "
        + "bundle to its VMs (GET /v1/bundle/NAMESPACE/GROUP), take their health reports (POST /v1/health) and list "
        + "the VMs for operators (GET /v1/vms).",
        "",
        "Bundles: --bundles DIR holds DIR/NAMESPACE/GROUP/ with what `istioctl x workload entry configure -o` writes "
            + "there. Running istioctl again takes effect at the next request; no restart. A directory holding "
            + "anything but those regular files (a symbolic link, an unknown file, an oversized one) is not served: "
            + "503, and the log says why.",
        "",
        "Join tokens: --tokens FILE is YAML, a list under 'tokens:'. Each entry has 'token: TOKEN' or "
            + "'sha256: HEX' (of the token, e.g. printf %%s TOKEN | sha256sum), and 'namespace:' plus 'group:' "
            + "(the one group it may fetch and report for) or 'admin: true' (GET /v1/vms only). The file is re-read "
            + "when it changes; one holding plain tokens must be readable by its owner only (chmod 600).",
        "",
        "TLS 1.2 or 1.3: --cert and --key (PEM; the leaf certificate first, then intermediates; an unencrypted "
            + "key). Without them a self-signed certificate (EC P-256, one year) for localhost, 127.0.0.1 and the "
            + "--listen host is generated at every start; its SHA-256 fingerprint is logged and --write-cert "
            + "saves it for clients to trust (--ca-file, bundle.caFile).",
        "",
        "Logs go to stdout, one journald-prefixed event per line. Runs until SIGTERM or SIGINT, then lets running "
            + "requests finish (a few seconds at most) and exits."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:--help or --version", "64:usage error",
        "78:configuration error (bundle directory, token file, certificate or key, listen address)",
        "130:stopped by SIGINT", "143:stopped by SIGTERM (a success for the unit)"})
final class ServeCommand implements Callable<Integer> {
  @ParentCommand
  OnboardingMain main;

  @Spec
  CommandSpec spec;

  @Option(names = "--bundles", required = true, paramLabel = "DIR",
      description = "Directory of DIR/NAMESPACE/GROUP/ bundle directories (istioctl output).")
  Path bundles;

  @Option(names = "--tokens", required = true, paramLabel = "FILE", description = "Join token file (YAML).")
  Path tokens;

  @Option(names = "--listen", defaultValue = "127.0.0.1:8443", paramLabel = "HOST:PORT",
      description = "Address and port to listen on; [::1]:8443 for IPv6, port 0 for any free port. "
          + "Default: ${DEFAULT-VALUE}.")
  String listen;

  @Option(names = "--cert", paramLabel = "PEM", description = "Certificate chain, leaf first (with --key).")
  Path cert;

  @Option(names = "--key", paramLabel = "PEM", description = "The certificate's unencrypted private key (with --cert).")
  Path key;

  @Option(names = "--write-cert", paramLabel = "FILE",
      description = "Write the generated self-signed certificate (PEM) here for clients to trust.")
  Path writeCert;

  @Option(names = "--reports", paramLabel = "FILE",
      description = "Append every accepted health report to FILE as one JSON line.")
  Path reports;

  @Option(names = "--max-age", defaultValue = "300s", paramLabel = "DURATION",
      description = "Cache-Control max-age on bundles, the agents' refresh hint. Default: ${DEFAULT-VALUE}.")
  String maxAge;

  @Option(names = "--debug", description = "Also log every request (method, path, status; never a token).")
  boolean debug;

  @Override
  public Integer call() throws InterruptedException {
    Log log = new Log(System.out, debug);
    InetSocketAddress address;
    Duration age;
    try {
      address = parseListen(listen);
      age = Durations.parse(maxAge);
    } catch (IllegalArgumentException e) {
      return usage(e.getMessage());
    }
    if ((cert == null) != (key == null)) {
      return usage("--cert and --key go together; give both, or neither for a generated certificate");
    }
    if (writeCert != null && cert != null) {
      return usage("--write-cert saves the generated certificate; with --cert, clients trust your CA instead");
    }
    limitSlowClients();
    OnboardingServer server;
    try {
      ServerTls tls = cert != null ? ServerTls.fromPem(cert, key, main.clock())
          : ServerTls.selfSigned(main.clock(), extraNames(address));
      if (tls.generated()) {
        if (writeCert != null) {
          writePem(writeCert, tls.certificatePem());
        }
        log.notice("generated a self-signed certificate, SHA-256 fingerprint " + tls.fingerprintSha256()
            + (writeCert != null ? "; clients trust it with --ca-file " + writeCert
                : "; save it for clients with --write-cert FILE"));
      }
      OnboardingServer.Builder b = OnboardingServer.builder().listen(address).tls(tls).bundles(bundles)
          .tokens(tokens).maxAge(age).clock(main.clock()).log(log);
      if (reports != null) {
        b.reports(reports);
      }
      server = b.build();
      server.start();
    } catch (ServerConfigException e) {
      log.error(e.getMessage());
      return OnboardingMain.CONFIG;
    } catch (IOException e) {
      log.error("cannot listen on " + listen + ": " + e.getMessage() + "; choose another --listen address or port, "
          + "or stop what holds it");
      return OnboardingMain.CONFIG;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    OnboardingServer running = server;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.notice("stopping on request");
      running.stop();
      stopped.countDown();
    }, "serve-stop"));
    stopped.await(); // the JVM exits once the hook has stopped the server
    return OnboardingMain.OK;
  }

  private int usage(String message) {
    spec.commandLine().getErr().println(message);
    spec.commandLine().getErr().println("Run 'istio-vm-onboarding serve --help' for usage.");
    return OnboardingMain.USAGE;
  }

  /** "HOST:PORT" or "[IPv6]:PORT". */
  static InetSocketAddress parseListen(String s) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException("--listen '" + s + "' is not HOST:PORT; write e.g. 127.0.0.1:8443, "
          + "0.0.0.0:8443 (every address) or [::1]:8443");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException("--listen '" + s + "': put an IPv6 address in brackets, e.g. [::1]:8443");
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("--listen '" + s + "': the port must be a number from 0 to 65535");
    }
    InetSocketAddress a = new InetSocketAddress(host, port);
    if (a.isUnresolved()) {
      throw new IllegalArgumentException("--listen '" + s + "': cannot resolve " + host);
    }
    return a;
  }

  /** The --listen host goes into a generated certificate too, unless it is a wildcard or already there. */
  private static List<String> extraNames(InetSocketAddress a) {
    InetAddress ip = a.getAddress();
    String host = a.getHostString();
    if (ip.isAnyLocalAddress() || host.equals("localhost") || host.equals("127.0.0.1")) {
      return List.of();
    }
    return List.of(host);
  }

  private static void writePem(Path file, String pem) throws ServerConfigException {
    try {
      Files.writeString(file, pem);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--")); // a certificate is public
    } catch (IOException e) {
      throw new ServerConfigException("cannot write --write-cert " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * com.sun.net.httpserver has no per-socket timeout; these make it drop a client that sends its request (or reads
   * its answer) too slowly, so a few silent connections cannot hold every worker. They are read once, when the first
   * server is made, and are left alone if already set.
   */
  private static void limitSlowClients() {
    if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
      System.setProperty("sun.net.httpserver.maxReqTime", "30");
    }
    if (System.getProperty("sun.net.httpserver.maxRspTime") == null) {
      System.setProperty("sun.net.httpserver.maxRspTime", "120");
    }
  }
}
