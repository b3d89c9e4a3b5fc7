package io.istiovmagent.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.istiovmagent.testing.Repo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** The cloud-init user-data example the package ships: valid for cloud-init, and onboarding with no human step. */
class CloudInitExampleTest {
  private static final Path EXAMPLE = Repo.path("packaging/deb/cloud-init-example.yaml");

  private static Cmd.Result schema(Path file) throws Exception {
    String cloudInit = Cmd.require("cloud-init", "cloud-init");
    return Cmd.run(List.of(cloudInit, "schema", "--config-file", file.toString()));
  }

  @Test
  void cloudInitAcceptsTheExample() throws Exception {
    Cmd.Result r = schema(EXAMPLE);
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().contains("Valid cloud-config"), r.all());
  }

  @Test
  void cloudInitRejectsABrokenCopySoTheCheckAboveMeansSomething(@TempDir Path tmp) throws Exception {
    String text = Files.readString(EXAMPLE, StandardCharsets.UTF_8).replace("permissions: \"0600\"",
        "permissions: 0600");
    Cmd.Result r = schema(Files.writeString(tmp.resolve("user-data.yaml"), text));
    assertNotEquals(0, r.code(), r.all());
    assertTrue(r.all().contains("permissions"), r.all());
  }

  @Test
  @SuppressWarnings("unchecked")
  void writesTheTokenPrivatelyAndTheConfigWithoutSecrets() throws Exception {
    String text = Files.readString(EXAMPLE, StandardCharsets.UTF_8);
    assertTrue(text.startsWith("#cloud-config\n"), "cloud-init ignores user-data without the #cloud-config line");
    Map<String, Object> doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    Map<String, Map<String, Object>> files = new java.util.HashMap<>();
    for (Map<String, Object> f : (List<Map<String, Object>>) doc.get("write_files")) {
      files.put((String) f.get("path"), f);
    }
    assertEquals("0600", files.get("/etc/istio-vm-agent/join-token").get("permissions"));
    String config = (String) files.get("/etc/istio-vm-agent/config.yaml").get("content");
    assertTrue(config.contains("tokenFile: /etc/istio-vm-agent/join-token"), config);
    assertTrue(config.contains("source: https://"), config);
    assertTrue(!config.contains("JOIN-TOKEN"), "the token stays out of the world-readable config");
  }

  @Test
  @SuppressWarnings("unchecked")
  void installsFromTheSignedRepositoryTrustingItsKeyForItAlone() throws Exception {
    Map<String, Object> doc = new Yaml(new SafeConstructor(new LoaderOptions()))
        .load(Files.readString(EXAMPLE, StandardCharsets.UTF_8));
    assertEquals(List.of("istio-vm-agent"), doc.get("packages"), "installed by cloud-init's package module");
    Map<String, Object> apt = (Map<String, Object>) doc.get("apt");
    assertEquals(Boolean.TRUE, apt.get("preserve_sources_list"), "the image's own sources are left alone");
    Map<String, Map<String, Object>> sources = (Map<String, Map<String, Object>>) apt.get("sources");
    String source = (String) sources.get("istio-vm-agent.list").get("source");
    assertTrue(source.matches("deb \\[signed-by=/etc/apt/keyrings/istio-vm-agent\\.asc\\] https://\\S+ stable main"),
        source);
    List<Map<String, Object>> files = (List<Map<String, Object>>) doc.get("write_files");
    String key = files.stream().filter(f -> f.get("path").equals("/etc/apt/keyrings/istio-vm-agent.asc"))
        .map(f -> (String) f.get("content")).findFirst().orElseThrow();
    assertTrue(key.startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"), key);
    assertTrue(!sources.get("istio-vm-agent.list").containsKey("key"), "a key: needs gpg on the VM to dearmor");
  }

  @Test
  void startsTheAgentWithoutWaitingForIt() throws Exception {
    String runcmd = String.valueOf(new Yaml(new SafeConstructor(new LoaderOptions()))
        .<Map<String, Object>>load(Files.readString(EXAMPLE, StandardCharsets.UTF_8)).get("runcmd"));
    assertTrue(runcmd.contains("[systemctl, enable, --now, --no-block, istio-vm-agent.service]"), runcmd);
    assertTrue(!runcmd.contains("dpkg") && !runcmd.contains("apt-get"), "the package module installs: " + runcmd);
    for (String line : runcmd.split("\n")) {
      if (line.contains("systemctl") && line.matches(".*(start|restart|--now).*")) {
        assertTrue(line.contains("--no-block"), "a blocking start inside cloud-init waits for READY=1: " + line);
      }
    }
  }
}
