package io.istiovmagent.onboarding.generate;

/**
 * Quoting a cluster.env value as istioctl does (its shellescape package): empty becomes {@code ''}; a value made only
 * of the characters {@code \ w @ % + = : , . / -} stays as it is; anything else is single-quoted, a single quote
 * inside written {@code '"'"'}. The set really is those characters: istioctl's pattern is the raw string
 * {@code [^\\w@%+=:,./-]}, where {@code \\} is a backslash and {@code w} the letter, not the class of word
 * characters, so practically every value (any other letter, a digit, {@code _}, {@code *}) ends up quoted.
 */
final class ShellQuote {
  private static final String PLAIN = "\\w@%+=:,./-";

  private ShellQuote() {}

  static String quote(String value) {
    if (value.isEmpty()) {
      return "''";
    }
    for (int i = 0; i < value.length(); i++) {
      if (PLAIN.indexOf(value.charAt(i)) < 0) {
        return "'" + value.replace("'", "'\"'\"'") + "'";
      }
    }
    return value;
  }
}
