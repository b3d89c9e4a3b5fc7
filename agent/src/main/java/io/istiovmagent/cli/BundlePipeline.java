package io.istiovmagent.cli;

import io.istiovmagent.bundle.BadBundleException;
import io.istiovmagent.bundle.Problem;
import io.istiovmagent.bundle.RawBundle;
import io.istiovmagent.config.AgentConfig;
import io.istiovmagent.config.ConfigException;
import io.istiovmagent.source.BundleSource;
import io.istiovmagent.source.BundleSources;
import io.istiovmagent.source.Credentials;
import io.istiovmagent.source.HttpsClients;
import io.istiovmagent.source.SourceConfigException;
import io.istiovmagent.source.SourceException;
import io.istiovmagent.source.TlsTrust;
import io.istiovmagent.util.Log;
import io.istiovmagent.verify.BundleVerifier;
import io.istiovmagent.verify.VerifiedBundle;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;

/** Fetch and verify, shared by `bundle verify` and `apply`; turns every failure into a message and an exit code. */
final class BundlePipeline {
  /** A failure already reported to the user; carries the exit code. */
  static final class Failed extends Exception {
    final int exitCode;

    Failed(int exitCode) {
      super(null, null, false, false);
      this.exitCode = exitCode;
    }
  }

  /** A verified bundle, where it came from, and the configuration it was fetched with. */
  record Result(VerifiedBundle bundle, String source, AgentConfig config) {}

  private BundlePipeline() {}

  /** Loads the configuration, fetches and verifies; every failure is reported on err and becomes {@link Failed}. */
  static Result fetchAndVerify(Main main, String sourceArg, Path caFileArg, PrintWriter err) throws Failed {
    AgentConfig config;
    try {
      config = main.loadConfig();
    } catch (ConfigException e) {
      err.println(e.getMessage());
      throw new Failed(ExitCodes.CONFIG);
    }
    String spec = sourceArg != null ? sourceArg : config.bundle().source().orElse(null);
    if (spec == null) {
      err.println("no bundle source: give SOURCE or set bundle.source in " + main.configPath());
      throw new Failed(ExitCodes.USAGE);
    }
    Optional<Path> caFile = caFileArg != null ? Optional.of(caFileArg) : config.bundle().caFile();
    BundleSource source;
    try {
      // The one-shot commands keep quiet about a missing store (run says it once; status shows the trust).
      TlsTrust.Source trust = TlsTrust.Spec.of(config.bundle(), main.rootFs()).withCaFile(caFile).source();
      source = BundleSources.open(spec, new BundleSources.Transport(trust, config.bundle().tokenFile(),
          config.bundle().timeout(), Main.userAgent(), main.clock(), HttpsClients.NO_EVENTS,
          Optional.of(Credentials.readOnly(config.bundle().tokenFile(),
              main.rootFs().lexical(config.paths().stateDir()), new Log(System.err, false)))));
    } catch (SourceConfigException e) {
      err.println(e.getMessage());
      throw new Failed(ExitCodes.CONFIG);
    }
    try {
      RawBundle raw = source.fetch();
      VerifiedBundle verified = new BundleVerifier(main.clock(), new HashSet<>(config.hosts().allowedNames()))
          .verify(raw);
      for (Problem w : verified.warnings()) {
        err.println("warning: " + w.format());
      }
      return new Result(verified, source.describe(), config);
    } catch (SourceException e) {
      err.println("cannot fetch the bundle: " + e.getMessage());
      throw new Failed(ExitCodes.UNAVAILABLE);
    } catch (BadBundleException e) {
      for (Problem p : e.problems()) {
        err.println(p.format());
      }
      err.println("bundle from " + source.describe() + " refused (" + e.problems().size() + " problem"
          + (e.problems().size() == 1 ? "" : "s") + "); nothing was changed");
      throw new Failed(ExitCodes.DATA_ERROR);
    }
  }
}
