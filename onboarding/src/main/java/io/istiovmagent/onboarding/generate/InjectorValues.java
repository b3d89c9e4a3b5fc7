package io.istiovmagent.onboarding.generate;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The cluster id as istioctl finds it when {@code --clusterID} is not given: {@code global.multiCluster.clusterName}
 * in the {@code values} JSON of the ConfigMap {@code istio-sidecar-injector[-REV]}. A missing path is "", as in
 * istioctl 1.24 and later.
 */
public final class InjectorValues {
  private static final ObjectMapper JSON = new ObjectMapper();

  private InjectorValues() {}

  public static String clusterName(String valuesJson) throws InvalidInputException {
    JsonNode root;
    try {
      root = JSON.readTree(valuesJson);
    } catch (JacksonException e) {
      throw new InvalidInputException("the injector values are not JSON (line " + e.getLocation().getLineNr()
          + ", column " + e.getLocation().getColumnNr() + "); give the ConfigMap's data.values: kubectl -n "
          + "istio-system get configmap istio-sidecar-injector -o jsonpath='{.data.values}'");
    }
    if (root == null || !root.isObject()) {
      throw new InvalidInputException("the injector values must be a JSON object, the ConfigMap's data.values");
    }
    JsonNode name = root.path("global").path("multiCluster").path("clusterName");
    if (name.isMissingNode() || name.isNull()) {
      return "";
    }
    if (!name.isTextual()) {
      throw new InvalidInputException("global.multiCluster.clusterName in the injector values must be a string, not "
          + name.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + " " + name);
    }
    return name.textValue();
  }
}
