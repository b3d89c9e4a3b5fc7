package io.istiovmagent.daemon;

import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.fs.RootFs;
import io.istiovmagent.report.HostInfo;
import io.istiovmagent.report.Reporter;
import io.istiovmagent.retry.Backoff;
import io.istiovmagent.retry.FailureClass;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.status.AgentStatus;
import io.istiovmagent.util.FileStamp;
import io.istiovmagent.util.Log;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import okhttp3.HttpUrl;

/**
 * The health reporter's lifecycle: built from the configuration, rebuilt only when what it is built from changed
 * (a reload that leaves report.url, the token and the CA alone keeps it, its backoff and its sequence), closed on
 * stop after the last report.
 */
final class ReporterKeeper {
  /**
   * Everything a reporter is built from. The token, CA and system store files are in by their stamp: a reload after
   * the join token was rotated (or its file made readable by others, or the CA file or the store replaced) must not
   * go on with what was read before.
   */
  record Inputs(AgentConfig.Report report, Optional<Path> tokenFile, Optional<Path> caFile, AgentConfig.Trust trust,
      Duration timeout, Duration backoffCap, FileStamp token, FileStamp ca, FileStamp store) {
    static Inputs of(AgentConfig c, RootFs fs) {
      return new Inputs(c.report(), c.bundle().tokenFile(), c.bundle().caFile(), c.bundle().trust(),
          c.bundle().timeout(), c.bundle().backoffCap(), stamp(c.bundle().tokenFile()), stamp(c.bundle().caFile()),
          TrustKeeper.storeStamp(c, fs));
    }
  }

  /** The STOPPING report may hold up shutdown this long at most (the unit's stop timeout is larger). */
  static final Duration ON_STOP = Duration.ofSeconds(3);

  private final RootFs fs;
  private final Clock clock;
  private final RandomGenerator random;
  private final Log log;
  private final String userAgent;
  private final Function<HttpUrl, Reporter.Hints> hints;
  private final CredentialsKeeper credentials;
  private final TrustKeeper trust;
  private Reporter reporter;
  private Inputs inputs;

  /** @param hints what the reporter's thread tells the loop (through its event queue), per report URL */
  ReporterKeeper(RootFs fs, Clock clock, RandomGenerator random, Log log, String userAgent,
      Function<HttpUrl, Reporter.Hints> hints, CredentialsKeeper credentials, TrustKeeper trust) {
    this.credentials = credentials;
    this.trust = trust;
    this.fs = fs;
    this.clock = clock;
    this.random = random;
    this.log = log;
    this.userAgent = userAgent;
    this.hints = hints;
  }

  static FileStamp stamp(Optional<Path> file) {
    try {
      return file.isEmpty() ? FileStamp.ABSENT : FileStamp.of(file.get(), true);
    } catch (IOException e) {
      return FileStamp.ABSENT;
    }
  }

  /** Whether {@code c} would build the reporter in force (or none, as now). */
  boolean unchangedFor(AgentConfig c) {
    return Inputs.of(c, fs).equals(inputs);
  }

  /** (Re)starts the reporter when anything it is built from changed; none without report.url. */
  void configure(AgentConfig config) {
    Inputs next = Inputs.of(config, fs);
    if (next.equals(inputs) && reporter != null) {
      return;
    }
    if (reporter != null) {
      reporter.close();
      reporter = null;
    }
    inputs = next;
    if (config.report().url().isEmpty()) {
      return;
    }
    try {
      HttpUrl url = HttpUrl.parse(config.report().url().get());
      if (url == null) {
        throw new SourceConfigException("report.url is not a valid https:// URL");
      }
      Optional<BearerToken> credential = credentials.of(config).bearer();
      reporter = new Reporter(url, trust.of(config), credential,
          config.report().interval(), config.bundle().timeout(),
          new Backoff(Backoff.DEFAULT_BASE, config.bundle().backoffCap(), random), random,
          () -> HostInfo.read(fs), clock, log, userAgent, hints.apply(url));
      reporter.start();
      log.info("reporting health to " + Reporter.display(url) + " every "
          + config.report().interval().toSeconds() + "s and on every change");
    } catch (SourceConfigException e) {
      log.error("health reporting disabled: " + e.getMessage());
    }
  }

  /** The reporter's state (its identity changes when it does); null without a reporter. */
  Reporter.State state() {
    return reporter == null ? null : reporter.state();
  }

  /** What the status says about reporting; null without a reporter. */
  AgentStatus.Report status() {
    if (reporter == null) {
      return null;
    }
    Reporter.State st = reporter.state();
    return new AgentStatus.Report(st.url(), st.lastDeliveredAt(), st.delivered(), st.lastError());
  }

  /** Reports not delivered since the reporter in force started, by class; null without a reporter. */
  Map<FailureClass, Long> failures() {
    return reporter == null ? null : reporter.state().failures();
  }

  /** A VM reports once it knows who it is: its workload comes with the bundle. */
  void offer(AgentStatus s) {
    if (reporter != null && s.bundle() != null) {
      reporter.offer(s);
    }
  }

  /** Sends the last report (if the VM knows who it is) and ends the reporter, waiting {@link #ON_STOP} at most. */
  void stop(AgentStatus last) throws InterruptedException {
    if (reporter != null) {
      reporter.stop(last.bundle() != null ? last : null, ON_STOP);
    }
  }
}
