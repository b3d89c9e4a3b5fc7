package io.istiovmagent.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.TestTls;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.Call;
import okhttp3.ConnectionSpec;
import okhttp3.EventListener;
import okhttp3.Handshake;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The event seam of {@link HttpsClients} (for bench/p5-fleet): a listener sees each call and changes nothing. */
class HttpsClientsTest {
  private static final HeldCertificate CA = TestTls.newCa("https clients test CA");

  @TempDir
  Path dir;

  private MockWebServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void aListenerSeesTheHandshakeTheStatusAndTheEndOfACall() throws Exception {
    server = TestTls.startHttps(TestTls.serverCert(CA, "localhost"), CA);
    server.enqueue(new MockResponse.Builder().code(304).build());
    List<String> events = new CopyOnWriteArrayList<>();
    EventListener.Factory recorder = call -> new EventListener() {
      @Override
      public void callStart(Call c) {
        events.add("callStart");
      }

      @Override
      public void secureConnectEnd(Call c, Handshake h) {
        events.add("secureConnectEnd");
      }

      @Override
      public void responseHeadersEnd(Call c, Response r) {
        events.add("status " + r.code());
      }

      @Override
      public void callEnd(Call c) {
        events.add("callEnd");
      }
    };
    OkHttpClient client = HttpsClients.client(TlsTrust.trustManager(Optional.of(TestTls.writeCaPem(dir, CA))),
        Duration.ofSeconds(2), false, recorder);
    try (Response r = client.newCall(new Request.Builder()
        .url(server.url("/v1/bundle/ns/g").newBuilder().host("localhost").build()).build()).execute()) {
      assertEquals(304, r.code());
    }
    assertEquals(List.of("callStart", "secureConnectEnd", "status 304", "callEnd"), events);
  }

  @Test
  void withOrWithoutAListenerTheClientIsTheSame() throws Exception {
    var trust = TlsTrust.trustManager(Optional.empty());
    EventListener.Factory listener = call -> EventListener.NONE;
    OkHttpClient plain = HttpsClients.client(trust, Duration.ofSeconds(3), true);
    OkHttpClient observed = HttpsClients.client(trust, Duration.ofSeconds(3), true, listener);
    for (OkHttpClient c : List.of(plain, observed)) {
      assertEquals(List.of(ConnectionSpec.MODERN_TLS), c.connectionSpecs());
      assertFalse(c.retryOnConnectionFailure());
      assertTrue(c.followRedirects());
      assertFalse(c.followSslRedirects());
      assertEquals(3000, c.connectTimeoutMillis());
      assertEquals(3000, c.readTimeoutMillis());
      assertEquals(6000, c.callTimeoutMillis());
    }
    assertSame(HttpsClients.NO_EVENTS, plain.eventListenerFactory());
    assertSame(listener, observed.eventListenerFactory());
  }
}
