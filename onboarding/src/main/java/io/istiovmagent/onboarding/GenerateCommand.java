package io.istiovmagent.onboarding;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.onboarding.generate.BundleGenerator;
import io.istiovmagent.onboarding.generate.InjectorValues;
import io.istiovmagent.onboarding.generate.InvalidInputException;
import io.istiovmagent.onboarding.generate.WorkloadGroup;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Write a workload group's bundle as `istioctl x workload entry configure -o DIR` does, offline: "
        + "from files instead of the cluster, for a GitOps pipeline or an air-gapped operator. cluster.env, "
        + "mesh.yaml and hosts are istioctl's byte for byte (docs/generator.md lists where they deliberately "
        + "differ); root-cert.pem and istio-token are copies of --root-cert and --token-file.",
        "",
        "The bundle is checked as the agent checks it (`istio-vm-agent bundle verify`) before anything is written: "
            + "a token for another namespace or service account, an expired token or certificate, a private key "
            + "refuse it, and DIR is left as it was. Each file is replaced atomically; istio-token is 0600, the "
            + "others 0644 (istioctl writes all five 0744).",
        "",
        "What istioctl reads from the cluster, and where to get it with kubectl:",
        "  -f              kubectl -n NS get workloadgroup NAME -o yaml",
        "  --mesh-config   kubectl -n istio-system get configmap istio[-REV] -o jsonpath='{.data.mesh}'",
        "  --injector-values  kubectl -n istio-system get configmap istio-sidecar-injector[-REV] "
            + "-o jsonpath='{.data.values}'",
        "  --root-cert     kubectl -n NS get configmap istio-ca-root-cert -o jsonpath='{.data.root-cert\\.pem}'",
        "  --token-file    kubectl -n NS create token SERVICE_ACCOUNT --audience istio-ca --duration 1h",
        "  --ingress-ip    the east-west gateway's load balancer IP"},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:written", "64:usage error", "65:an input is invalid, or the bundle would not pass "
        + "verification (nothing written)", "66:an input file cannot be read", "74:DIR cannot be written"})
final class GenerateCommand implements Callable<Integer> {
  static final int DATA_ERROR = 65;
  static final int NO_INPUT = 66;
  static final int IO_ERROR = 74;
  /** Larger inputs are not what istioctl's sources hold; refusing them keeps a wrong path from filling memory. */
  private static final long MAX_INPUT = 1 << 20;

  @ParentCommand
  OnboardingMain main;

  @Spec
  CommandSpec spec;

  @Option(names = {"-f", "--file"}, required = true, paramLabel = "WORKLOADGROUP.yaml",
      description = "The WorkloadGroup (networking.istio.io v1, v1beta1 or v1alpha3).")
  Path groupFile;

  @Option(names = {"-n", "--namespace"}, paramLabel = "NS",
      description = "The group's namespace, when its metadata names none.")
  String namespace;

  @Option(names = "--mesh-config", required = true, paramLabel = "MESH.yaml",
      description = "The mesh config: data.mesh of the ConfigMap istio[-REV] in istio's namespace.")
  Path meshConfig;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR",
      description = "Where to write the five files; created if missing.")
  Path output;

  @ArgGroup(exclusive = true, multiplicity = "1")
  ClusterId clusterId;

  static final class ClusterId {
    @Option(names = "--cluster-id", paramLabel = "ID",
        description = "The cluster's id, istiod's CLUSTER_ID (Kubernetes unless the mesh was installed with "
            + "values.global.multiCluster.clusterName).")
    String id;

    @Option(names = "--injector-values", paramLabel = "FILE",
        description = "Take the cluster id from the injector's values JSON (global.multiCluster.clusterName), as "
            + "istioctl does without --clusterID.")
    Path injectorValues;
  }

  @Option(names = {"-r", "--revision"}, defaultValue = "", paramLabel = "REV",
      description = "The control plane's revision (istiod-REV); none by default.")
  String revision;

  @Option(names = {"-i", "--istio-namespace"}, defaultValue = "istio-system", paramLabel = "NS",
      description = "Istio's namespace. Default: ${DEFAULT-VALUE}.")
  String istioNamespace;

  @Option(names = "--root-cert", required = true, paramLabel = "PEM",
      description = "The mesh's root certificate (istio-ca-root-cert's root-cert.pem in the group's namespace).")
  Path rootCert;

  @Option(names = "--token-file", required = true, paramLabel = "FILE",
      description = "A token of the group's service account with audience istio-ca (trailing newlines dropped).")
  Path tokenFile;

  @Option(names = "--ingress-ip", paramLabel = "IP",
      description = "The east-west gateway's IP, which hosts maps istiod's name to. Without it hosts is empty and "
          + "the VM must resolve istiod's name itself.")
  String ingressIp;

  @ArgGroup(exclusive = true)
  VmAddress vmAddress;

  static final class VmAddress {
    @Option(names = "--internal-ip", paramLabel = "IP",
        description = "The VM's IP as the mesh reaches it (ISTIO_SVC_IP).")
    String internal;

    @Option(names = "--external-ip", paramLabel = "IP",
        description = "The VM's external IP, when it is behind NAT (ISTIO_SVC_IP; probes then go through localhost).")
    String external;
  }

  @Option(names = "--autoregister", description = "Let istiod register the VM (ISTIO_META_AUTO_REGISTER_GROUP).")
  boolean autoRegister;

  @Option(names = "--capture-dns", arity = "0..1", defaultValue = "true", fallbackValue = "true",
      paramLabel = "BOOL", description = "Capture the VM's DNS (ISTIO_META_DNS_CAPTURE). Default: ${DEFAULT-VALUE}.")
  boolean captureDns;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    BundleGenerator.Request request;
    try {
      WorkloadGroup group = WorkloadGroup.parse(readText(groupFile, "-f"), Optional.ofNullable(namespace));
      String id = clusterId.id != null ? clusterId.id
          : InjectorValues.clusterName(readText(clusterId.injectorValues, "--injector-values"));
      request = new BundleGenerator.Request(group, readText(meshConfig, "--mesh-config"), id, revision,
          istioNamespace, read(rootCert, "--root-cert"), withoutTrailingNewlines(read(tokenFile, "--token-file")),
          Optional.ofNullable(ingressIp),
          Optional.ofNullable(vmAddress).map(a -> a.internal), Optional.ofNullable(vmAddress).map(a -> a.external),
          autoRegister, captureDns);
    } catch (Unreadable e) {
      err.println(e.getMessage());
      return NO_INPUT;
    } catch (InvalidInputException e) {
      err.println(e.getMessage());
      return DATA_ERROR;
    }
    BundleGenerator.Generated generated;
    VerifiedBundle verified;
    try {
      generated = BundleGenerator.generate(request);
      verified = new BundleVerifier(main.clock(), Set.of()).verify(new RawBundle(generated.files()));
    } catch (InvalidInputException e) {
      err.println(e.getMessage());
      return DATA_ERROR;
    } catch (BadBundleException e) {
      err.println("the bundle would not pass the agent's verification; nothing written:");
      for (Problem p : e.problems()) {
        err.println("  " + p.format());
      }
      return DATA_ERROR;
    }
    try {
      BundleDirectory.write(output, generated.files());
    } catch (IOException e) {
      err.println("cannot write " + output + ": " + e.getMessage());
      return IO_ERROR;
    }
    generated.warnings().forEach(w -> err.println("warning: " + w));
    verified.warnings().forEach(w -> err.println("warning: " + w.format()));
    out.println("wrote " + output + ": workload group " + verified.namespace() + "/"
        + request.group().name() + ", service account " + verified.serviceAccount() + ", token valid until "
        + verified.token().expiresAt() + ", revision " + verified.revision());
    return OnboardingMain.OK;
  }

  /** An input file that cannot be read; the message names the option. */
  private static final class Unreadable extends Exception {
    Unreadable(String message) {
      super(message, null, false, false);
    }
  }

  private static byte[] read(Path file, String option) throws Unreadable {
    try {
      if (!Files.isRegularFile(file)) {
        throw new Unreadable(option + " " + file + (Files.exists(file, LinkOption.NOFOLLOW_LINKS)
            ? " is not a regular file" : " does not exist"));
      }
      if (Files.size(file) > MAX_INPUT) {
        throw new Unreadable(option + " " + file + " is larger than 1 MiB; is it the right file?");
      }
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new Unreadable(option + " " + file + " does not exist");
    } catch (IOException e) {
      throw new Unreadable("cannot read " + option + " " + file + ": " + e.getMessage());
    }
  }

  private static String readText(Path file, String option) throws Unreadable {
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(read(file, option))).toString();
    } catch (CharacterCodingException e) {
      throw new Unreadable(option + " " + file + " is not UTF-8 text");
    }
  }

  /** {@code kubectl create token} ends its output with a newline; istioctl writes the token without one. */
  private static byte[] withoutTrailingNewlines(byte[] b) {
    int end = b.length;
    while (end > 0 && (b[end - 1] == '\n' || b[end - 1] == '\r')) {
      end--;
    }
    return Arrays.copyOf(b, end);
  }
}
