package io.istiovmagent.onboarding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.kubernetes.schema.validator.ValidationMessage;
import io.fabric8.kubernetes.schema.validator.Validator;
import io.istiovmagent.testing.Repo;
import io.istiovmagent.util.BuildVersion;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Kubernetes manifests in deploy/kubernetes, checked offline, as no API server can be had here: Kubernetes'
 * own kinds against its OpenAPI schema (fabric8's validator: types, required fields, and unknown fields), and every
 * document, Istio's kinds included, loaded into fabric8's typed model, where a field the kind does not have shows up
 * as an "additional property". The negative controls prove each check can fail.
 */
class ManifestsTest {
  private static final Path DIR = Repo.root().resolve("deploy/kubernetes");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final KubernetesSerialization MODEL = new KubernetesSerialization();
  private static Validator validator;

  /** One document of a manifest file. */
  record Doc(String file, int index, String yaml, JsonNode tree) {
    String where() {
      return file + "#" + index + " (" + tree.path("kind").asText() + " " + tree.path("metadata").path("name").asText()
          + ")";
    }
  }

  @BeforeAll
  static void load() {
    validator = Validator.newInstance(); // a few seconds: it parses the whole OpenAPI document
  }

  private static List<Doc> docs() throws IOException {
    List<Doc> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(DIR)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        String[] parts = Files.readString(f).split("(?m)^---$");
        for (int i = 0; i < parts.length; i++) {
          JsonNode tree = YAML.readTree(parts[i]);
          if (tree != null && !tree.isEmpty()) {
            out.add(new Doc(f.getFileName().toString(), i, parts[i], tree));
          }
        }
      }
    }
    return out;
  }

  private static boolean isKubernetesKind(JsonNode tree) {
    String apiVersion = tree.path("apiVersion").asText();
    return !apiVersion.contains(".") || apiVersion.endsWith(".k8s.io/v1") || apiVersion.startsWith("apps/");
  }

  /** Schema errors, without the validator's one known false report: every integer IntOrString. */
  private static List<String> schemaErrors(JsonNode tree) {
    List<String> out = new ArrayList<>();
    for (ValidationMessage m : validator.validate(tree).getMessages()) {
      if (m.getLevel() == ValidationMessage.Level.ERROR && (m.getSchema() == null
          || !m.getSchema().contains("io.k8s.apimachinery.pkg.util.intstr.IntOrString"))) {
        out.add(m.getMessage());
      }
    }
    return out;
  }

  /** Every field the typed model did not know, as paths. */
  static List<String> unknownFields(String yaml) {
    Object typed = MODEL.unmarshal(yaml, KubernetesResource.class);
    List<String> out = new ArrayList<>();
    walk(typed, typed.getClass().getSimpleName(), out, new IdentityHashMap<>());
    return out;
  }

  private static void walk(Object o, String path, List<String> out, Map<Object, Boolean> seen) {
    if (o == null || seen.put(o, true) != null) {
      return;
    }
    if (o instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        walk(e, path + "[" + i++ + "]", out, seen);
      }
      return;
    }
    if (o instanceof Map<?, ?> m) {
      m.forEach((k, v) -> walk(v, path + "[" + k + "]", out, seen));
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.")) {
      return;
    }
    for (Method g : o.getClass().getMethods()) {
      if (g.getParameterCount() != 0 || Modifier.isStatic(g.getModifiers()) || !g.getName().startsWith("get")
          || g.getDeclaringClass() == Object.class) {
        continue;
      }
      Object v;
      try {
        v = g.invoke(o);
      } catch (ReflectiveOperationException e) {
        continue;
      }
      if (g.getName().equals("getAdditionalProperties")) {
        if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
          out.add(path + ": " + extra.keySet());
        }
      } else {
        walk(v, path + "." + g.getName().substring(3), out, seen);
      }
    }
  }

  @Test
  void everyManifestValidates() throws IOException {
    List<Doc> docs = docs();
    assertTrue(docs.size() >= 12, "the manifests: " + docs.size() + " documents");
    Set<String> kinds = new java.util.TreeSet<>();
    for (Doc d : docs) {
      kinds.add(d.tree().path("kind").asText());
      if (isKubernetesKind(d.tree())) {
        assertEquals(List.of(), schemaErrors(d.tree()), d.where());
      }
      assertEquals(List.of(), unknownFields(d.yaml()), d.where());
      assertFalse(MODEL.unmarshal(d.yaml(), KubernetesResource.class).getClass().getName()
          .endsWith("GenericKubernetesResource"), d.where() + " was not read as its kind");
    }
    assertEquals(Set.of("ClusterRole", "ClusterRoleBinding", "Deployment", "Gateway", "Namespace", "Role",
        "RoleBinding", "Service", "ServiceAccount", "VirtualService"), kinds);
  }

  /** The Deployment runs the image this build makes, and the service account the roles are bound to. */
  @Test
  void theDeploymentRunsThisBuildsImageAsTheBoundServiceAccount() throws IOException {
    Deployment d = docs().stream().filter(x -> x.tree().path("kind").asText().equals("Deployment"))
        .map(x -> MODEL.unmarshal(x.yaml(), Deployment.class)).findFirst().orElseThrow();
    assertEquals("istio-vm-onboarding:" + BuildVersion.get(),
        d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    String account = d.getSpec().getTemplate().getSpec().getServiceAccountName();
    List<Doc> bindings = docs().stream().filter(x -> x.tree().path("kind").asText().endsWith("Binding")).toList();
    assertFalse(bindings.isEmpty());
    for (Doc b : bindings) {
      JsonNode subject = b.tree().path("subjects").get(0);
      assertEquals(account, subject.path("name").asText(), b.where());
      assertEquals(d.getMetadata().getNamespace(), subject.path("namespace").asText(), b.where());
    }
  }

  /**
   * Prometheus scrapes what the pod's annotations name: they, the container's port named metrics and the
   * {@code --metrics-listen} argument agree, and the Service does not expose that plain-HTTP port.
   */
  @Test
  void theScrapeAnnotationsThePortAndTheListenArgumentAgree() throws IOException {
    Deployment d = docs().stream().filter(x -> x.tree().path("kind").asText().equals("Deployment"))
        .map(x -> MODEL.unmarshal(x.yaml(), Deployment.class)).findFirst().orElseThrow();
    Map<String, String> annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
    var container = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    int port = container.getPorts().stream().filter(p -> "metrics".equals(p.getName())).findFirst().orElseThrow()
        .getContainerPort();
    assertEquals("true", annotations.get("prometheus.io/scrape"));
    assertEquals(Integer.toString(port), annotations.get("prometheus.io/port"));
    assertEquals("/metrics", annotations.get("prometheus.io/path"));
    List<String> args = container.getArgs();
    int at = args.indexOf("--metrics-listen");
    assertTrue(at >= 0 && at + 1 < args.size(), String.valueOf(args));
    assertTrue(args.get(at + 1).endsWith(":" + port), args.get(at + 1));
    for (Doc service : docs().stream().filter(x -> x.tree().path("kind").asText().equals("Service")).toList()) {
      for (JsonNode p : service.tree().path("spec").path("ports")) {
        assertFalse(p.path("port").asInt() == port || p.path("targetPort").asText().equals("metrics")
            || p.path("targetPort").asInt() == port, service.where() + " exposes the metrics port");
      }
    }
  }

  /** A misspelt field, a wrong type and a field Istio's Gateway does not have are each caught. */
  @Test
  void theChecksCatchWhatTheyAreFor() throws IOException {
    Doc deployment = docs().stream().filter(x -> x.tree().path("kind").asText().equals("Deployment")).findFirst()
        .orElseThrow();
    String misspelt = deployment.yaml().replace("serviceAccountName:", "serviceAcountName:");
    assertTrue(unknownFields(misspelt).toString().contains("serviceAcountName"), unknownFields(misspelt).toString());
    assertTrue(schemaErrors(YAML.readTree(misspelt)).toString().contains("serviceAcountName"),
        schemaErrors(YAML.readTree(misspelt)).toString());
    String wrongType = deployment.yaml().replace("replicas: 2", "replicas: one");
    assertFalse(schemaErrors(YAML.readTree(wrongType)).isEmpty(), "replicas: one");

    Doc gateway = docs().stream().filter(x -> x.tree().path("kind").asText().equals("Gateway")).findFirst()
        .orElseThrow();
    String bad = gateway.yaml().replace("  selector:", "  selectr:");
    assertTrue(unknownFields(bad).toString().contains("selectr"), unknownFields(bad).toString());
    assertTrue(MODEL.unmarshal(gateway.yaml(), KubernetesResource.class) instanceof HasMetadata);
  }
}
