package io.istiovmagent.onboarding;

import io.istiovmagent.onboarding.kube.KubernetesMode;
import io.istiovmagent.onboarding.kube.KubernetesMode.FleetSettings;
import io.istiovmagent.server.OnboardingServer;
import io.istiovmagent.server.ServerConfigException;
import io.istiovmagent.server.ServerTls;
import io.istiovmagent.server.metrics.ServiceMetrics;
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
import java.util.Optional;
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
        + "the VMs for operators (GET /v1/vms, shown as a page at GET /fleet; with --kubernetes from the cluster's "
        + "WorkloadEntries).",
        "",
        "Bundles: --bundles DIR holds DIR/NAMESPACE/GROUP/ with what `istioctl x workload entry configure -o` writes "
            + "there. Running istioctl again takes effect at the next request; no restart. A directory holding "
            + "anything but those regular files (a symbolic link, an unknown file, an oversized one) is not served: "
            + "503, and the log says why.",
        "",
        "Or --kubernetes: each bundle is made from the cluster when a VM asks (the WorkloadGroup, the mesh config, "
            + "the root certificate, the east-west gateway), with a token minted for the group's service account; "
            + "VMs enrol with a join token kept as a Secret (istio-vm-onboarding token create) and get a credential "
            + "of their own (POST /v1/enroll/NAMESPACE/GROUP). What is missing in the cluster is named to the VM, "
            + "in the log and in GET /v1/vms. docs/kubernetes.md.",
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

  @Option(names = "--bundles", paramLabel = "DIR",
      description = "Directory of DIR/NAMESPACE/GROUP/ bundle directories (istioctl output). Or --kubernetes.")
  Path bundles;

  @Option(names = "--kubernetes", description = "Make each bundle from the cluster, with a freshly minted token "
      + "(docs/kubernetes.md). Or --bundles.")
  boolean kubernetes;

  @Option(names = "--kubeconfig", paramLabel = "FILE",
      description = "With --kubernetes, from outside the cluster: the kubeconfig (default: the pod's service "
          + "account, else $KUBECONFIG or ~/.kube/config).")
  Path kubeconfig;

  @Option(names = "--context", paramLabel = "NAME", description = "With --kubernetes: the kubeconfig context.")
  String context;

  @Option(names = {"-i", "--istio-namespace"}, defaultValue = "istio-system", paramLabel = "NS",
      description = "With --kubernetes: Istio's namespace. Default: ${DEFAULT-VALUE}.")
  String istioNamespace;

  @Option(names = {"-r", "--revision"}, defaultValue = "", paramLabel = "REV",
      description = "With --kubernetes: the control plane's revision (istiod-REV, ConfigMap istio-REV); none by "
          + "default.")
  String revision;

  @Option(names = "--cluster-id", paramLabel = "ID",
      description = "With --kubernetes: the cluster's id (default: the injector's global.multiCluster.clusterName, "
          + "else Kubernetes, as istiod).")
  String clusterId;

  @Option(names = "--gateway", defaultValue = "istio-system/istio-eastwestgateway", paramLabel = "NS/NAME",
      description = "With --kubernetes: the east-west gateway Service VMs reach istiod through. "
          + "Default: ${DEFAULT-VALUE}.")
  String gateway;

  @Option(names = "--gateway-address", paramLabel = "IP|HOST",
      description = "With --kubernetes: the gateway's address as VMs reach it, instead of the Service's.")
  String gatewayAddress;

  @Option(names = "--token-lifetime", defaultValue = "1h", paramLabel = "DURATION",
      description = "With --kubernetes: how long a minted token lives (at least 10m). Default: ${DEFAULT-VALUE}.")
  String tokenLifetime;

  @Option(names = "--cache-ttl", defaultValue = "10s", paramLabel = "DURATION",
      description = "With --kubernetes: how long what was read from the cluster for a group is used before it is "
          + "read again, in the background (the token never is). Default: ${DEFAULT-VALUE}.")
  String cacheTtl;

  @Option(names = "--namespace", paramLabel = "NS",
      description = "With --kubernetes: the service's own namespace, for its leader Lease and the replicas' "
          + "last-seen records. Default: $POD_NAMESPACE, else istio-vm-onboarding.")
  String namespace;

  @Option(names = "--replica", paramLabel = "NAME",
      description = "With --kubernetes: this replica's name in the leader election. Default: $POD_NAME, else the "
          + "host name.")
  String replica;

  @Option(names = "--vm-ttl", defaultValue = "24h", paramLabel = "DURATION",
      description = "With --kubernetes: a VM silent for longer loses its WorkloadEntry. Default: ${DEFAULT-VALUE}.")
  String vmTtl;

  @Option(names = "--revoke-at-ttl", description = "With --kubernetes: also revoke the credential of a VM whose "
      + "entry the TTL deletes (it must enrol again with a join token).")
  boolean revokeAtTtl;

  @Option(names = "--lease-duration", defaultValue = "15s", paramLabel = "DURATION",
      description = "With --kubernetes: how long the leader's Lease holds without renewal; another replica takes "
          + "over within it when the leader dies. Default: ${DEFAULT-VALUE}.")
  String leaseDuration;

  @Option(names = "--tokens", paramLabel = "FILE", description = "Join token file (YAML); with --kubernetes "
      + "optional (join tokens are Secrets in the cluster then: istio-vm-onboarding token create).")
  Path tokens;

  @Option(names = "--listen", defaultValue = "127.0.0.1:8443", paramLabel = "HOST:PORT",
      description = "Address and port to listen on; [::1]:8443 for IPv6, port 0 for any free port. "
          + "Default: ${DEFAULT-VALUE}.")
  String listen;

  @Option(names = "--metrics-listen", paramLabel = "HOST:PORT",
      description = "Also serve Prometheus metrics, GET /metrics only, over plain HTTP on this address, e.g. "
          + "0.0.0.0:9090 in a pod (docs/kubernetes.md, Metrics). Default: none.")
  String metricsListen;

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
    Optional<InetSocketAddress> metricsAddress;
    Duration age;
    Optional<KubernetesMode.Options> cluster;
    try {
      address = parseListen(listen);
      metricsAddress = metricsListen == null ? Optional.empty()
          : Optional.of(parseListen("--metrics-listen", metricsListen));
      age = Durations.parse(maxAge);
      cluster = clusterOptions();
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
      ServerTls tls = cert != null ? ServerTls.fromPem(cert, key, main.clock(), log::notice)
          : ServerTls.selfSigned(main.clock(), extraNames(address));
      if (tls.generated()) {
        if (writeCert != null) {
          writePem(writeCert, tls.certificatePem());
        }
        log.notice("generated a self-signed certificate, SHA-256 fingerprint " + tls.fingerprintSha256()
            + (writeCert != null ? "; clients trust it with --ca-file " + writeCert
                : "; save it for clients with --write-cert FILE"));
      }
      ServiceMetrics metrics = new ServiceMetrics();
      OnboardingServer.Builder b = OnboardingServer.builder().listen(address).tls(tls).maxAge(age)
          .clock(main.clock()).log(log).metrics(metrics);
      metricsAddress.ifPresent(b::metricsListen);
      if (reports != null) {
        b.reports(reports);
      }
      if (tokens != null) {
        b.tokens(tokens);
      }
      if (cluster.isPresent()) {
        KubernetesMode.Cluster c = KubernetesMode.connect(cluster.get(), Optional.of(duties()), main.clock(), log,
            metrics);
        b.bundles(c.bundles()).credentials(c.credentials()).enroller(c.enroller()).healthSink(c.entries())
            .fleet(c.fleet());
      } else {
        b.bundles(bundles);
      }
      server = b.build();
      server.start();
    } catch (ServerConfigException e) {
      log.error(e.getMessage());
      return OnboardingMain.CONFIG;
    } catch (OnboardingServer.MetricsListenException e) {
      log.error(e.getMessage() + "; choose another --metrics-listen address or port, or stop what holds it");
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

  /** The Kubernetes mode's options, or empty for the directory mode; exactly one of them. */
  private Optional<KubernetesMode.Options> clusterOptions() {
    if (kubernetes == (bundles != null)) {
      throw new IllegalArgumentException("give --bundles DIR (bundles from a directory of istioctl output) or "
          + "--kubernetes (bundles made from the cluster), one of them");
    }
    if (!kubernetes) {
      if (tokens == null) {
        throw new IllegalArgumentException("--tokens FILE is required with --bundles: who may fetch which bundle");
      }
      if (kubeconfig != null || context != null || clusterId != null || gatewayAddress != null) {
        throw new IllegalArgumentException("--kubeconfig, --context, --cluster-id and --gateway-address go with "
            + "--kubernetes");
      }
      return Optional.empty();
    }
    String[] gw = gateway.split("/", -1);
    if (gw.length != 2 || gw[0].isEmpty() || gw[1].isEmpty()) {
      throw new IllegalArgumentException("--gateway '" + gateway + "' is not NAMESPACE/NAME, e.g. "
          + "istio-system/istio-eastwestgateway");
    }
    Duration lifetime = Durations.parse(tokenLifetime);
    if (lifetime.toSeconds() < 600) {
      throw new IllegalArgumentException("--token-lifetime " + tokenLifetime + " is shorter than the Kubernetes "
          + "API's least, 10m");
    }
    return Optional.of(new KubernetesMode.Options(Optional.ofNullable(kubeconfig), Optional.ofNullable(context),
        istioNamespace, revision, Optional.ofNullable(clusterId), gw[0], gw[1], Optional.ofNullable(gatewayAddress),
        lifetime, Durations.parse(cacheTtl)));
  }

  /** The fleet's duties' settings, from the options and the pod's environment (the Deployment sets both). */
  private FleetSettings duties() {
    String ns = namespace != null ? namespace : Optional.ofNullable(System.getenv("POD_NAMESPACE"))
        .filter(s -> !s.isBlank()).orElse("istio-vm-onboarding");
    String name = replica != null ? replica : Optional.ofNullable(System.getenv("POD_NAME")).filter(s -> !s.isBlank())
        .orElseGet(ServeCommand::hostName);
    Duration lease = Durations.parse(leaseDuration);
    if (lease.toSeconds() < 2) {
      throw new IllegalArgumentException("--lease-duration " + leaseDuration + " is too short: at least 2s");
    }
    return new FleetSettings(ns, name, Durations.parse(vmTtl), revokeAtTtl, lease);
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException e) {
      return "replica-" + ProcessHandle.current().pid();
    }
  }

  private int usage(String message) {
    spec.commandLine().getErr().println(message);
    spec.commandLine().getErr().println("Run 'istio-vm-onboarding serve --help' for usage.");
    return OnboardingMain.USAGE;
  }

  /** "HOST:PORT" or "[IPv6]:PORT". */
  static InetSocketAddress parseListen(String s) {
    return parseListen("--listen", s);
  }

  /** "HOST:PORT" or "[IPv6]:PORT", given to {@code flag}. */
  static InetSocketAddress parseListen(String flag, String s) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException(flag + " '" + s + "' is not HOST:PORT; write e.g. 127.0.0.1:8443, "
          + "0.0.0.0:8443 (every address) or [::1]:8443");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException(flag + " '" + s + "': put an IPv6 address in brackets, e.g. [::1]:8443");
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException(flag + " '" + s + "': the port must be a number from 0 to 65535");
    }
    InetSocketAddress a = new InetSocketAddress(host, port);
    if (a.isUnresolved()) {
      throw new IllegalArgumentException(flag + " '" + s + "': cannot resolve " + host);
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
