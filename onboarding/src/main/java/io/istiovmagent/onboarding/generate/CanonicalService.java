package io.istiovmagent.onboarding.generate;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The canonical service and revision of a workload, as Istio derives them from its labels ({@code
 * pkg/kube/labels.CanonicalService}): the first label present of {@code service.istio.io/canonical-name},
 * {@code app.kubernetes.io/name}, {@code app}, else the workload group's name; of
 * {@code service.istio.io/canonical-revision}, {@code app.kubernetes.io/version}, {@code version}, else
 * {@code latest}.
 */
record CanonicalService(String name, String revision) {
  static final String NAME_LABEL = "service.istio.io/canonical-name";
  static final String REVISION_LABEL = "service.istio.io/canonical-revision";

  static CanonicalService of(Map<String, String> labels, String groupName) {
    return new CanonicalService(
        first(labels, List.of(NAME_LABEL, "app.kubernetes.io/name", "app")).orElse(groupName),
        first(labels, List.of(REVISION_LABEL, "app.kubernetes.io/version", "version")).orElse("latest"));
  }

  private static Optional<String> first(Map<String, String> labels, List<String> keys) {
    return keys.stream().filter(labels::containsKey).map(labels::get).findFirst();
  }
}
