package io.istiovmagent.source;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import okhttp3.Connection;
import okhttp3.ConnectionPool;
import okhttp3.Interceptor;
import okhttp3.Request;

/**
 * Sends a request once more, on a new connection, when it failed on a <em>reused</em> connection before its
 * response arrived: what curl and Go's net/http do. A server may close an idle keep-alive connection at any moment
 * (an HTTP/1.0 server after each answer without saying so, any server after its idle timeout), and a request sent
 * on it meanwhile fails with "unexpected end of stream" or a reset although the server is fine. Every other failure
 * goes to the caller, and so to the agent's own backoff.
 *
 * <p>Why not OkHttp's {@code retryOnConnectionFailure}: it retries nearly any I/O failure, on new connections too and
 * possibly more than once, which would put OkHttp's schedule under the agent's backoff. OkHttp offers no switch for
 * the reused-connection case alone, so two interceptors make it: a network interceptor, which sees the connection,
 * marks an attempt that failed on a connection that had carried a request before; the application interceptor, which
 * may call the chain again, retries such an attempt once.
 *
 * <p>The decision reads types and OkHttp's own state, never a message. "Before the response arrived" is "before its
 * status line and headers were read" (the network interceptor's {@code proceed} threw): a failure while reading the
 * body is not retried. A timeout ({@link InterruptedIOException}, a server that took the request and did not answer
 * in time) and a malformed answer ({@link ProtocolException}: bytes did arrive) are not retried, nor a canceled call,
 * nor a one-shot body. A report sent twice is harmless: a report is state, and the retry carries the same sequence
 * number.
 */
final class StaleConnectionRetry {
  /** Set by the network interceptor on the attempt that failed on a reused connection before any response. */
  private static final class Attempt {
    volatile boolean failedOnReusedConnection;
  }

  /** Connections that have carried a request: weakly held, a closed connection leaves the pool and then this set. */
  private final Set<Connection> used = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
  private final ConnectionPool pool;

  StaleConnectionRetry(ConnectionPool pool) {
    this.pool = pool;
  }

  /** Retries a marked attempt once. */
  Interceptor application() {
    return chain -> {
      Attempt attempt = new Attempt();
      Request request = chain.request();
      try {
        return chain.proceed(request.newBuilder().tag(Attempt.class, attempt).build());
      } catch (IOException e) {
        if (!attempt.failedOnReusedConnection || !retriable(e) || chain.call().isCanceled()
            || (request.body() != null && request.body().isOneShot())) {
          throw e;
        }
        // The failed connection is already out of the pool (OkHttp takes no new exchange on a connection that
        // failed); others idle there went quiet as long, and the retry must not land on one of them.
        pool.evictAll();
        try {
          return chain.proceed(request); // untagged: never retried again
        } catch (IOException second) {
          second.addSuppressed(e);
          throw second;
        }
      }
    };
  }

  /** Marks an attempt that failed on a connection that had carried a request before, before any response. */
  Interceptor network() {
    return chain -> {
      Connection connection = chain.connection();
      boolean reused = connection != null && !used.add(connection);
      try {
        return chain.proceed(chain.request());
      } catch (IOException e) {
        Attempt attempt = chain.request().tag(Attempt.class);
        if (reused && attempt != null) {
          attempt.failedOnReusedConnection = true;
        }
        throw e;
      }
    };
  }

  /** The closed-connection failures: not a timeout or an interrupt, not a malformed answer. */
  private static boolean retriable(IOException e) {
    return !(e instanceof InterruptedIOException) && !(e instanceof ProtocolException);
  }
}
