package io.istiovmagent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** How P7 names a request to the API server: its verb, its resource, whether it is a write. */
class ApiRequestTest {
  @ParameterizedTest(name = "{0} {1} -> {2} {3}")
  @CsvSource(delimiter = ' ', value = {
      "GET /api/v1/namespaces/bar/secrets/istio-vm-cred-0123 GET secrets false",
      "GET /api/v1/namespaces/bar/secrets?labelSelector=istio-vm-agent.io%2Fkind%3Djoin-token LIST secrets false",
      "GET /apis/networking.istio.io/v1/workloadentries?labelSelector=a%3Db&resourceVersion=0 LIST workloadentries"
          + " false",
      "GET /apis/networking.istio.io/v1/workloadentries?allowWatchBookmarks=true&resourceVersion=5&watch=true"
          + " WATCH workloadentries false",
      "GET /api/v1/namespaces/istio-vm-onboarding/configmaps?watch=1 WATCH configmaps false",
      "GET /apis/networking.istio.io/v1/namespaces/bar/workloadgroups/foo GET workloadgroups false",
      "POST /apis/networking.istio.io/v1/namespaces/bar/workloadentries POST workloadentries true",
      "PUT /apis/networking.istio.io/v1/namespaces/bar/workloadentries/foo-01/status PUT workloadentries/status true",
      "DELETE /apis/networking.istio.io/v1/namespaces/bar/workloadentries/foo-01 DELETE workloadentries true",
      "POST /api/v1/namespaces/bar/serviceaccounts/vm-serviceaccount/token POST serviceaccounts/token false",
      "PATCH /apis/coordination.k8s.io/v1/namespaces/istio-vm-onboarding/leases/istio-vm-onboarding-leader"
          + " PATCH leases true",
      "put /api/v1/namespaces/istio-vm-onboarding/configmaps/istio-vm-onboarding-seen-replica-a PUT configmaps true",
      "GET /api/v1/namespaces/istio-system GET namespaces false",
      "GET /api/v1/namespaces LIST namespaces false",
      "GET /version GET other false",
      "GET /apis/networking.istio.io/v1 GET other false"})
  void namesTheVerbAndResourceAsTheAuditLogWould(String method, String path, String verb, String resource,
      boolean write) {
    ApiRequest r = ApiRequest.of(method, path);
    assertEquals(new ApiRequest(verb, resource), r);
    assertEquals(write, r.write());
  }
}
