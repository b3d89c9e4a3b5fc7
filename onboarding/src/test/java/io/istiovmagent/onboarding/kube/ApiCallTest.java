package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ApiCallTest {
  @ParameterizedTest
  @CsvSource({
      "GET, /api/v1/namespaces/bar/secrets/vmc-0123, get, secrets",
      "GET, /api/v1/namespaces/bar/secrets?labelSelector=a%3Db, list, secrets",
      "GET, /api/v1/namespaces/bar/secrets?allowWatchBookmarks=true&watch=true, watch, secrets",
      "GET, /api/v1/namespaces/istio-system, get, namespaces",
      "GET, /apis/networking.istio.io/v1/workloadentries, list, workloadentries",
      "PUT, /apis/networking.istio.io/v1/namespaces/bar/workloadentries/foo-0123abcd/status, update, "
          + "workloadentries/status",
      "POST, /api/v1/namespaces/bar/serviceaccounts/vm-sa/token, create, serviceaccounts/token",
      "POST, /apis/coordination.k8s.io/v1/namespaces/ns/leases, create, leases",
      "PATCH, /api/v1/namespaces/ns/configmaps/seen-pod-1, patch, configmaps",
      "DELETE, /apis/networking.istio.io/v1/namespaces/bar/workloadentries/foo-0123abcd, delete, workloadentries",
      "DELETE, /api/v1/namespaces/bar/secrets, deletecollection, secrets",
      "GET, /version, get, nonresource",
  })
  void namesTheVerbAndResourceButNeverANamespaceOrAName(String method, String path, String verb, String resource) {
    ApiCall c = ApiCall.of(method, URI.create("https://10.0.0.1:443" + path));
    assertEquals(new ApiCall(verb, resource), c);
  }
}
