package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.istiovmagent.server.metrics.ServiceMetrics;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Counts every request the Kubernetes client sends, retries included, by {@link ApiCall} and status: on fabric8's
 * HTTP client, so every caller is counted without knowing it. A watch is counted once, when it is answered (its
 * events are not requests); a request that got no answer counts with the code {@code error}.
 */
final class ApiCallMetrics implements Interceptor {
  static final String NAME = "istio-vm-onboarding-metrics";

  private final ServiceMetrics metrics;

  ApiCallMetrics(ServiceMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public void after(HttpRequest request, HttpResponse<?> response, AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    ApiCall c = ApiCall.of(request.method(), request.uri());
    metrics.apiCall(c.verb(), c.resource(), Integer.toString(response.code()));
  }

  @Override
  public void afterConnectionFailure(HttpRequest request, Throwable failure) {
    ApiCall c = ApiCall.of(request.method(), request.uri());
    metrics.apiCall(c.verb(), c.resource(), "error");
  }
}
