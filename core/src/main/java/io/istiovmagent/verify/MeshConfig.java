package io.istiovmagent.verify;

import io.istiovmagent.bundle.BundleLimits;
import io.istiovmagent.util.SafeYaml;
import java.util.Map;

/** mesh.yaml: a YAML mapping whose {@code defaultConfig} is Istio's ProxyConfig. Installed as received. */
public record MeshConfig(String discoveryAddress) {
  private static final String FILE = "mesh.yaml";

  static MeshConfig parse(byte[] bytes, Problems problems) {
    if (bytes.length > BundleLimits.MAX_MESH_BYTES) {
      problems.error(FILE, "mesh-size", "is " + bytes.length + " bytes; the limit is " + BundleLimits.MAX_MESH_BYTES);
      return null;
    }
    String text = problems.text(FILE, bytes);
    if (text == null) {
      return null;
    }
    Object doc;
    try {
      doc = SafeYaml.load(text, BundleLimits.MAX_MESH_BYTES);
    } catch (SafeYaml.YamlError e) {
      problems.error(FILE, "mesh-yaml", e.getMessage());
      return null;
    }
    if (!(doc instanceof Map<?, ?> map)) {
      problems.error(FILE, "mesh-not-mapping", doc == null ? "is empty; it must hold Istio's mesh config "
          + "(a mapping with defaultConfig)" : "is not a YAML mapping");
      return null;
    }
    Object dc = map.get("defaultConfig");
    if (dc != null && !(dc instanceof Map)) {
      problems.error(FILE, "mesh-not-mapping", "defaultConfig is not a mapping");
      return null;
    }
    Object addr = dc == null ? null : ((Map<?, ?>) dc).get("discoveryAddress");
    if (addr != null && !(addr instanceof String)) {
      // Not printed: a structure built from aliases can print to many megabytes from a few kilobytes.
      problems.error(FILE, "mesh-field", "defaultConfig.discoveryAddress is not a string (it is istiod's "
          + "HOST:PORT)");
      return null;
    }
    return new MeshConfig((String) addr);
  }
}
