package io.istiovmagent.verify;

import com.code_intelligence.jazzer.api.FuzzerSecurityIssueMedium;
import com.code_intelligence.jazzer.api.HookType;
import com.code_intelligence.jazzer.api.Jazzer;
import com.code_intelligence.jazzer.api.MethodHook;
import java.lang.invoke.MethodHandle;
import java.util.regex.Pattern;

/**
 * A Jazzer hook (loaded with -Djazzer.custom_hooks) that makes any host-name lookup from the verification code a
 * finding: verifying a bundle must never touch the network. InetAddress.getByName/getAllByName parse a literal
 * address without a lookup only when it starts with a hex digit or ':' and is a valid literal; anything else goes
 * to the resolver.
 */
public final class NoNameLookups {
  private static final Pattern IPV4ISH = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){0,3}");

  private NoNameLookups() {}

  @MethodHook(type = HookType.BEFORE, targetClassName = "java.net.InetAddress", targetMethod = "getByName")
  @MethodHook(type = HookType.BEFORE, targetClassName = "java.net.InetAddress", targetMethod = "getAllByName")
  public static void beforeLookup(MethodHandle method, Object self, Object[] args, int hookId) {
    String host = (String) args[0];
    if (host == null || host.isEmpty()) {
      return; // the local host; not reached from a parser
    }
    char c = host.charAt(0);
    boolean literalPath = Character.digit(c, 16) != -1 || c == ':' || c == '[';
    boolean resolves = !literalPath || host.indexOf(':') < 0 && !IPV4ISH.matcher(host).matches();
    if (resolves) {
      Jazzer.reportFindingFromHook(new FuzzerSecurityIssueMedium("verification asked the resolver for '"
          + host + "': parsing a bundle must never look a name up"));
    }
  }
}
