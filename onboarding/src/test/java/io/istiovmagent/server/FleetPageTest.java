package io.istiovmagent.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GET /fleet over real HTTPS: static files served without a credential, each with the headers that keep it from
 * doing anything but show /v1/vms; and what the files must never hold. The page's behaviour is tested in a real
 * browser (FleetPageInChromiumTest).
 */
class FleetPageTest {
  @TempDir
  Path tmp;
  private ServerFixture f;

  @BeforeEach
  void start() throws Exception {
    f = ServerFixture.start(tmp);
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void thePageAndItsFilesAreServedWithoutACredentialWithStrictHeaders() throws Exception {
    for (String[] file : new String[][] {{"/fleet", "text/html; charset=utf-8"},
        {"/fleet/", "text/html; charset=utf-8"}, {"/fleet/fleet.js", "text/javascript; charset=utf-8"},
        {"/fleet/fleet.css", "text/css; charset=utf-8"}}) {
      ServerFixture.Reply r = f.get(file[0], null);
      assertEquals(200, r.code(), file[0]);
      assertEquals(file[1], r.header("Content-Type"), file[0]);
      assertEquals("default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          r.header("Content-Security-Policy"), file[0]);
      assertEquals("nosniff", r.header("X-Content-Type-Options"), file[0]);
      assertEquals("no-referrer", r.header("Referrer-Policy"), file[0]);
      assertEquals("no-store", r.header("Cache-Control"), file[0]);
      assertEquals("DENY", r.header("X-Frame-Options"), file[0]);
    }
  }

  @Test
  void onlyItsFilesAndOnlyGet() throws Exception {
    assertEquals(404, f.get("/fleet/tokens.yaml", null).code());
    assertEquals(404, f.get("/fleet/index.html.bak", null).code());
    assertEquals(405, f.post("/fleet", null, "{}").code());
    assertEquals(401, f.get("/fleetx", null).code(), "not the page's: a credential is needed as anywhere else");
    assertEquals(401, f.get("/v1/vms", null).code(), "the data still needs the admin token");
  }

  /** CSP allows no inline script or style; the script writes data as text only, never as HTML. */
  @Test
  void theFilesHoldNoInlineScriptOrStyleAndTheScriptNoHtmlSink() throws Exception {
    String html = f.get("/fleet", null).text();
    assertEquals(List.of("<script src=\"/fleet/fleet.js\" defer></script>"),
        Pattern.compile("<script[^>]*>[^<]*</script>").matcher(html).results().map(m -> m.group()).toList());
    assertFalse(Pattern.compile("\\sstyle\\s*=|<style|\\son[a-z]+\\s*=", Pattern.CASE_INSENSITIVE).matcher(html)
        .find(), "no inline style or event handler attribute");
    String css = f.get("/fleet/fleet.css", null).text();
    assertFalse(Pattern.compile("(https?:)?//[a-z]|@import", Pattern.CASE_INSENSITIVE).matcher(html + css).find(),
        "no external asset");
    String js = f.get("/fleet/fleet.js", null).text();
    for (String sink : List.of("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
        "new Function", "localStorage", "?token", "&token")) {
      assertFalse(js.contains(sink), "fleet.js uses " + sink);
    }
    assertTrue(js.contains("fetch('/v1/vms'"), "the data comes from /v1/vms");
  }
}
