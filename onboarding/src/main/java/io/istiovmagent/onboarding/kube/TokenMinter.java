package io.istiovmagent.onboarding.kube;

import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.istiovmagent.server.metrics.ServiceMetrics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Mints the token a VM presents to istiod's CA: a TokenRequest for the group's service account, audience
 * {@code istio-ca}, as istioctl makes it (no bound object: the VM is not a pod). The token is returned, never logged.
 */
final class TokenMinter {
  /** The API server refuses shorter ones (TokenRequest's minimum expirationSeconds). */
  static final Duration MIN_LIFETIME = Duration.ofSeconds(600);
  static final String AUDIENCE = "istio-ca";

  private final KubernetesClient client;
  private final Duration lifetime;
  private final ServiceMetrics metrics;

  TokenMinter(KubernetesClient client, Duration lifetime, ServiceMetrics metrics) {
    if (lifetime.compareTo(MIN_LIFETIME) < 0) {
      throw new IllegalArgumentException("a token lives at least " + MIN_LIFETIME.toSeconds() + " s (the API "
          + "server's minimum), not " + lifetime.toSeconds() + " s");
    }
    this.client = client;
    this.lifetime = lifetime;
    this.metrics = metrics;
  }

  /** The token; every attempt is counted in the metrics by its outcome. */
  byte[] mint(String namespace, String serviceAccount) throws ClusterReads.Problem {
    TokenRequest request = new TokenRequestBuilder().withNewSpec().withAudiences(AUDIENCE)
        .withExpirationSeconds(lifetime.toSeconds()).endSpec().build();
    TokenRequest minted;
    try {
      minted = client.serviceAccounts().inNamespace(namespace).withName(serviceAccount).tokenRequest(request);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        metrics.tokenMint(ServiceMetrics.NO_SERVICE_ACCOUNT);
        throw new ClusterReads.Problem(false, "no ServiceAccount " + namespace + "/" + serviceAccount + " (the "
            + "WorkloadGroup's spec.template.serviceAccount) to mint the VM's token for; create it (kubectl -n "
            + namespace + " create serviceaccount " + serviceAccount + ")");
      }
      metrics.tokenMint(ServiceMetrics.MINT_FAILED);
      throw ClusterReads.failure(e, "create serviceaccounts/token in " + namespace + " (for " + serviceAccount
          + ")");
    }
    String token = minted == null || minted.getStatus() == null ? null : minted.getStatus().getToken();
    if (token == null || token.isEmpty()) {
      metrics.tokenMint(ServiceMetrics.MINT_FAILED);
      throw new ClusterReads.Problem(false, "the TokenRequest for " + namespace + "/" + serviceAccount
          + " was answered without a token");
    }
    metrics.tokenMint(ServiceMetrics.MINTED);
    return token.getBytes(StandardCharsets.US_ASCII);
  }
}
