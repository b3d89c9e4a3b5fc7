import io.istiovmagent.bundle.BearerToken;
import io.istiovmagent.bundle.FetchResult;
import io.istiovmagent.bundle.HttpsSource;
import io.istiovmagent.bundle.TlsTrust;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import okhttp3.HttpUrl;

/**
 * For bench/p4-control-plane: the agent's own conditional fetch ({@link HttpsSource}, the code `run` uses), each on a
 * fresh TLS connection, as every refresh of the daemon is (it keeps an idle connection 4 s, HttpsClients.KEEP_ALIVE;
 * the endpoint closes one idle for about 30 s).
 *
 * <p>Usage: ConditionalFetch URL CA_FILE TOKEN_FILE COUNT. Fetches once without an ETag (200), prints "mark1 UNIX_TIME",
 * waits 2.5 s, then COUNT times builds a new source (a new client, so a new connection) and fetches with the ETag,
 * printing the status (304 expected), then "mark2 UNIX_TIME" and waits 2.5 s: the bench reads the relay's byte
 * counts between the marks.
 */
public final class ConditionalFetch {
  public static void main(String[] a) throws Exception {
    HttpUrl url = HttpUrl.get(a[0]);
    Path ca = Path.of(a[1]);
    Path token = Path.of(a[2]);
    int count = Integer.parseInt(a[3]);
    FetchResult first = source(url, ca, token).fetch(Optional.empty());
    String etag = ((FetchResult.Fetched) first).etag().orElseThrow();
    System.out.println("200 etag " + etag);
    System.out.printf("mark1 %.3f%n", System.currentTimeMillis() / 1000.0);
    Thread.sleep(2500);
    for (int i = 0; i < count; i++) {
      FetchResult r = source(url, ca, token).fetch(Optional.of(etag));
      System.out.println(r instanceof FetchResult.NotModified ? "304" : "200");
    }
    System.out.printf("mark2 %.3f%n", System.currentTimeMillis() / 1000.0);
    Thread.sleep(2500);
    System.exit(0); // OkHttp's pool threads would keep the JVM a while
  }

  private static HttpsSource source(HttpUrl url, Path ca, Path token) throws Exception {
    return new HttpsSource(url, TlsTrust.trustManager(Optional.of(ca)), Optional.of(BearerToken.readFile(token)),
        Duration.ofSeconds(30), "istio-vm-agent-bench", Clock.systemUTC());
  }
}
