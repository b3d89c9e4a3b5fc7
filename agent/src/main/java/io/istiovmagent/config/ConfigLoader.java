package io.istiovmagent.config;

import io.istiovmagent.sidecar.ReadinessProbe;
import io.istiovmagent.util.SafeYaml;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/** Reads config.yaml. A missing file means all defaults; an unknown key, a wrong type or a bad value is an error. */
public final class ConfigLoader {
  private static final int MAX_BYTES = 256 * 1024;
  private static final Pattern HOST_NAME = Pattern.compile(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private ConfigLoader() {}

  /** A configuration and the text it was parsed from (empty text for a missing file: all defaults). */
  public record Loaded(AgentConfig config, String text) {}

  public static AgentConfig load(Path file) throws ConfigException {
    return loadWithText(file).config();
  }

  /** As {@link #load}, with the text read: what was parsed, not what the file holds a moment later. */
  public static Loaded loadWithText(Path file) throws ConfigException {
    String text;
    try {
      byte[] bytes = Files.readAllBytes(file);
      if (bytes.length > MAX_BYTES) {
        throw new ConfigException(file + ": larger than " + MAX_BYTES + " bytes");
      }
      text = new String(bytes, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return new Loaded(AgentConfig.defaults(), "");
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read: " + e.getMessage());
    }
    return new Loaded(parse(file.toString(), text), text);
  }

  public static AgentConfig parse(String name, String text) throws ConfigException {
    Object doc;
    try {
      doc = SafeYaml.load(text, MAX_BYTES);
    } catch (SafeYaml.YamlError e) {
      throw new ConfigException(name + ": " + e.getMessage());
    }
    if (doc == null) {
      return AgentConfig.defaults();
    }
    if (!(doc instanceof Map<?, ?> map)) {
      throw new ConfigException(name + ": must be a YAML mapping (e.g. 'bundle:' with 'source:' under it)");
    }
    ConfigNode root = new ConfigNode(name, "", map);

    ConfigNode b = root.section("bundle");
    Optional<String> source = Optional.ofNullable(b.string("source"));
    Optional<Path> caFile = Optional.ofNullable(b.string("caFile")).map(Path::of);
    Optional<Path> tokenFile = Optional.ofNullable(b.string("tokenFile")).map(Path::of);
    if (tokenFile.isPresent() && !tokenFile.get().isAbsolute()) {
      // Not echoed: the likeliest relative "path" is the join token itself, pasted where its file belongs.
      throw new ConfigException(name + ": 'bundle.tokenFile' must be the absolute path of the file that holds the "
          + "join token (e.g. /etc/istio-vm-agent/join-token), not the token itself");
    }
    Duration refresh = b.duration("refreshInterval", AgentConfig.DEFAULT_REFRESH, Duration.ofSeconds(10));
    Duration timeout = b.duration("timeout", AgentConfig.DEFAULT_TIMEOUT, Duration.ofSeconds(1));
    Duration backoffCap = b.duration("backoffCap", AgentConfig.DEFAULT_BACKOFF_CAP, Duration.ofSeconds(1));
    AgentConfig.Trust trust = trust(name, b.string("trust"), caFile);

    ConfigNode h = root.section("hosts");
    List<String> allowed = h.strings("allowedNames").stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
    for (String n : allowed) {
      if (!HOST_NAME.matcher(n).matches()) {
        throw new ConfigException(name + ": 'hosts.allowedNames' has '" + n + "', which is not a host name");
      }
      if (n.equals("localhost") || n.endsWith(".localhost") || n.startsWith("localhost.")) {
        throw new ConfigException(name + ": 'hosts.allowedNames' may not allow localhost");
      }
    }

    Optional<String> gateway = Optional.ofNullable(h.string("gatewayHostname")).map(n -> n.toLowerCase(Locale.ROOT));
    if (gateway.isPresent() && !HOST_NAME.matcher(gateway.get()).matches()) {
      throw new ConfigException(name + ": 'hosts.gatewayHostname' is '" + gateway.get() + "', not a host name");
    }

    ConfigNode sc = root.section("sidecar");
    boolean manage = sc.bool("manage", true);
    String unit = Optional.ofNullable(sc.string("unit")).orElse(AgentConfig.DEFAULT_SIDECAR_UNIT);
    String readinessUrl = Optional.ofNullable(sc.string("readinessUrl")).orElse(AgentConfig.DEFAULT_READINESS_URL);
    try {
      ReadinessProbe.loopbackUrl(readinessUrl); // the one rule, shared with the probe that uses it
    } catch (IllegalArgumentException e) {
      throw new ConfigException(name + ": " + e.getMessage());
    }

    ConfigNode rep = root.section("report");
    Optional<String> reportUrl = Optional.ofNullable(rep.string("url"));
    if (reportUrl.isPresent() && !reportUrl.get().toLowerCase(Locale.ROOT).startsWith("https://")) {
      throw new ConfigException(name + ": 'report.url' must be an https:// URL: reports travel with the join token");
    }
    if (reportUrl.isPresent() && hasUserInfo(reportUrl.get())) {
      throw new ConfigException(name + ": 'report.url' carries a user name or password; reports are sent with the "
          + "join token from bundle.tokenFile, and a credential in the URL would be printed and stored");
    }
    Duration reportInterval = rep.duration("interval", AgentConfig.DEFAULT_REPORT_INTERVAL, Duration.ofSeconds(5));

    ConfigNode p = root.section("paths");
    String stateDir = absolute(name, "paths.stateDir", p.string("stateDir"), AgentConfig.DEFAULT_STATE_DIR);
    String runDir = absolute(name, "paths.runDir", p.string("runDir"), AgentConfig.DEFAULT_RUN_DIR);

    ConfigNode m = root.section("metrics");
    boolean textfile = m.bool("textfile", true);
    String dir = m.string("textfileDir");
    Optional<String> textfileDir = Optional.ofNullable(dir == null ? null
        : absolute(name, "metrics.textfileDir", dir, null));
    if (textfileDir.isPresent() && Path.of(textfileDir.get()).normalize().getNameCount() == 0) {
      throw new ConfigException(name + ": 'metrics.textfileDir' may not be / (give node-exporter's "
          + "--collector.textfile.directory, e.g. " + AgentConfig.DEFAULT_TEXTFILE_DIR + ")");
    }
    Duration metricsInterval = m.duration("interval", AgentConfig.DEFAULT_METRICS_INTERVAL, Duration.ofSeconds(5));

    root.rejectUnknown();
    return new AgentConfig(new AgentConfig.Bundle(source, caFile, tokenFile, refresh, timeout, backoffCap,
        trust),
        new AgentConfig.Hosts(allowed, gateway), new AgentConfig.Sidecar(manage, unit, readinessUrl),
        new AgentConfig.Report(reportUrl, reportInterval), new AgentConfig.Paths(stateDir, runDir),
        new AgentConfig.Metrics(textfile, textfileDir, metricsInterval));
  }

  private static AgentConfig.Trust trust(String file, String value, Optional<Path> caFile) throws ConfigException {
    if (value == null) {
      return AgentConfig.Trust.SYSTEM_AND_CA_FILE;
    }
    AgentConfig.Trust t = AgentConfig.Trust.of(value).orElseThrow(() -> new ConfigException(file + ": 'bundle.trust' "
        + "is '" + value + "'; give 'system+caFile' (the system's CAs and bundle.caFile, the default) or 'caFile' "
        + "(bundle.caFile alone)"));
    if (t == AgentConfig.Trust.CA_FILE_ONLY && caFile.isEmpty()) {
      // Trusting nobody would only fail every fetch later, and quietly trusting the system would betray the pin.
      throw new ConfigException(file + ": 'bundle.trust: caFile' trusts bundle.caFile alone, and no 'bundle.caFile' "
          + "is set; set it to the PEM file of your CA (e.g. /etc/istio-vm-agent/ca.pem), or remove 'bundle.trust'");
    }
    return t;
  }

  /** Whether a URL's authority (between "://" and the first '/', '?' or '#') holds a user name or password. */
  static boolean hasUserInfo(String url) {
    int start = url.indexOf("://");
    if (start < 0) {
      return false;
    }
    start += 3;
    int end = url.length();
    for (char c : new char[] {'/', '?', '#'}) {
      int i = url.indexOf(c, start);
      if (i >= 0 && i < end) {
        end = i;
      }
    }
    return url.substring(start, end).indexOf('@') >= 0;
  }

  private static String absolute(String file, String key, String value, String dflt) throws ConfigException {
    if (value == null) {
      return dflt;
    }
    if (!value.startsWith("/")) {
      throw new ConfigException(file + ": '" + key + "' must be an absolute path (it is resolved under --root)");
    }
    return value;
  }
}
