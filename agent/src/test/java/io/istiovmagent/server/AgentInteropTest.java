package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.istiovmagent.bundle.DirectoryReader;
import io.istiovmagent.source.BearerToken;
import io.istiovmagent.source.FetchResult;
import io.istiovmagent.source.HttpsSource;
import io.istiovmagent.source.TlsTrust;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's own HTTPS source against the endpoint: a CA file with the written certificate, a 0600 token file. */
class AgentInteropTest {
  @TempDir
  Path tmp;

  @Test
  void theAgentFetchesAndThenRevalidatesItsBundleFromTheEndpoint() throws Exception {
    try (ServerFixture f = ServerFixture.start(tmp)) {
      Path ca = Files.writeString(tmp.resolve("endpoint.pem"), f.server.tls().certificatePem());
      Path token = Files.writeString(tmp.resolve("join-token"), ServerFixture.TOKEN + "\n");
      Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
      HttpsSource source = new HttpsSource(HttpUrl.get(f.url("/v1/bundle/vm-namespace/hello-vm")),
          TlsTrust.trustManager(Optional.of(ca)), Optional.of(BearerToken.readFile(token)), Duration.ofSeconds(5),
          "istio-vm-agent/test", f.clock);

      FetchResult.Fetched first = assertInstanceOf(FetchResult.Fetched.class, source.fetch(Optional.empty()));
      assertEquals(DirectoryReader.read(f.groupDir()).revision(), first.bundle().revision());
      assertEquals(Optional.of(Duration.ofSeconds(300)), first.maxAge());

      FetchResult again = source.fetch(first.etag());
      assertEquals(new FetchResult.NotModified(Optional.of(Duration.ofSeconds(300))), again);
    }
  }
}
