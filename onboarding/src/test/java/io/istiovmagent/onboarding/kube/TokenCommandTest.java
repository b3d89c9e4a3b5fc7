package io.istiovmagent.onboarding.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.istiovmagent.onboarding.OnboardingMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token and credential commands, through a kubeconfig to fabric8's mock API server, as an operator runs them. */
@EnableKubernetesMockClient(crud = true)
class TokenCommandTest {
  KubernetesMockServer server;
  KubernetesClient client;

  @TempDir
  Path tmp;
  private Path kubeconfig;
  private MeshOnMockApi mesh;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void cluster() throws Exception {
    mesh = new MeshOnMockApi(server, client);
    kubeconfig = mesh.kubeconfig(tmp);
  }

  private Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    List<String> all = new ArrayList<>(Arrays.asList(args));
    all.add("--kubeconfig");
    all.add(kubeconfig.toString());
    int code = OnboardingMain.run(mesh.clock, new PrintWriter(out, true), new PrintWriter(err, true),
        all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void createsListsAndRevokesJoinTokensShowingEachOnlyOnce() {
    Run created = run("token", "create", "-n", "bar", "--group", "foo", "--ttl", "2h", "--uses", "5",
        "--description", "web tier");
    assertEquals(0, created.code(), created.err());
    String token = created.out().strip();
    assertTrue(token.matches("[a-z0-9]{6}\\.[a-z0-9]{26}"), created.out());
    assertTrue(created.err().contains("join token for bar/foo, valid 2h, 5 VMs; it is not shown again"),
        created.err());

    Run listed = run("token", "list");
    assertEquals(0, listed.code(), listed.err());
    String id = token.substring(0, 6);
    assertTrue(listed.out().lines().anyMatch(l -> l.matches("bar\\s+" + id + "\\s+foo\\s+2026-12-07T12:00:00Z\\s+"
        + "0/5\\s+web tier")), listed.out());
    assertFalse(listed.out().contains(token.substring(7)), "never the token");

    ClusterCredentials creds = new ClusterCredentials(client, mesh.clock, Duration.ZERO, mesh.log);
    creds.enrol("bar", "foo", token, "0123456789abcdef0123456789abcdef", "vm-1");
    Run machines = run("credential", "list", "-n", "bar");
    assertTrue(machines.out().contains("0123456789abcdef0123456789abcdef foo"), machines.out());

    assertEquals(0, run("token", "revoke", "-n", "bar", id).code());
    Run again = run("token", "revoke", "-n", "bar", id);
    assertEquals(1, again.code());
    assertTrue(again.err().contains("no join token " + id + " in bar"), again.err());
    assertEquals(0, run("credential", "revoke", "-n", "bar", "0123456789abcdef0123456789abcdef").code());
    assertFalse(run("credential", "list").out().contains("0123456789abcdef0123456789abcdef"));
  }

  @Test
  void refusalsSayWhatIsMissing() {
    server.expect().post().withPath("/api/v1/namespaces/locked/secrets").andReturn(403, new StatusBuilder()
        .withCode(403).withReason("Forbidden").withMessage("secrets is forbidden").build()).always();
    Run forbidden = run("token", "create", "-n", "locked", "--group", "foo");
    assertEquals(77, forbidden.code(), forbidden.err());
    assertTrue(forbidden.err().contains("you need the permission to create secrets in locked"), forbidden.err());

    Run badId = run("token", "revoke", "-n", "bar", "NOT-AN-ID");
    assertEquals(64, badId.code());
    assertEquals(64, run("token", "create", "-n", "bar", "--group", "foo", "--uses", "0").code());
    assertEquals(64, run("credential", "revoke", "-n", "bar", "xyz").code());

    StringWriter err = new StringWriter();
    int code = OnboardingMain.run(mesh.clock, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
        "token", "list", "--kubeconfig", tmp.resolve("missing").toString());
    assertEquals(78, code);
    assertTrue(err.toString().contains("--kubeconfig " + tmp.resolve("missing") + " does not exist"), err.toString());
  }

  /**
   * A kubeconfig that cannot be used is named, never quoted: it holds the user's credentials, and the YAML parser's
   * own message shows the line it stopped at.
   */
  @Test
  void aBrokenKubeconfigIsNamedButItsTokenNeverShown() throws Exception {
    String secret = "Zq7xWv-bearer-0123456789abcdef";
    String good = Files.readString(kubeconfig).replace("not-checked-by-the-mock", secret);
    for (String broken : new String[] {good.replace("users:\n", "users:\n  [\n"),
        good.replace("    token: " + secret, "    token: " + secret + "\n   bad: indentation: here"),
        good.replace("    token: " + secret, "    token: " + secret + ": x"),
        good.replace("    token: " + secret, "    token: [" + secret + ", 2]"),
        good.replace("    token: " + secret, "    token: " + secret + "\n    \"unterminated")}) {
      Files.writeString(kubeconfig, broken);
      Run r = run("token", "list");
      assertEquals(78, r.code(), r.err());
      assertTrue(r.err().contains("--kubeconfig " + kubeconfig), r.err());
      assertTrue(r.err().matches("(?s).*(at line \\d+, column \\d+|at users\\[0\\]\\.user\\.token).*"), r.err());
      for (int i = 0; i + 8 <= secret.length(); i++) { // the parser cuts a long line anywhere: no piece of it either
        assertFalse((r.out() + r.err()).contains(secret.substring(i, i + 8)), r.err());
      }
    }
  }
}
