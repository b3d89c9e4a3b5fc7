package io.istiovmagent.onboarding.generate;

import java.math.BigInteger;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether go-yaml v2 would read a plain scalar back as a string ({@code resolve.go}), which decides whether the
 * encoder may write a string plain or must quote it. Not a string: the null, bool and special-float words in the
 * spellings go-yaml knows, ints in Go's base-0 syntax (0x, 0o, 0b, a leading 0 for octal; underscores ignored),
 * floats, and timestamps of go-yaml's four layouts. Like go-yaml, only the first character decides which of these is
 * tried at all.
 */
final class GoYamlResolve {
  private static final Set<String> WORDS = Set.of(
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
      "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
      "", "~", "null", "Null", "NULL",
      ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF");
  private static final Pattern YAML_FLOAT = Pattern.compile("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  private static final Pattern BASE60_FLOAT = Pattern.compile("[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?");
  /** Go's strconv.ParseFloat syntax, decimal and hexadecimal (with underscores already removed by the caller). */
  private static final Pattern GO_FLOAT = Pattern.compile("[-+]?(?:(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
      + "|0[xX](?:[0-9a-fA-F]+\\.?[0-9a-fA-F]*|\\.[0-9a-fA-F]+)[pP][-+]?[0-9]+|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
      + "|[nN][aA][nN])");
  private static final Pattern DATE = Pattern.compile("([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})");
  private static final Pattern DATE_TIME = Pattern.compile("([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})([Tt ])"
      + "([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})?");

  private GoYamlResolve() {}

  /** Whether the plain scalar {@code s} reads back as a string. */
  static boolean isString(String s) {
    char hint = s.isEmpty() ? 'N' : hint(s.charAt(0));
    if (hint == 0) {
      return true;
    }
    if (WORDS.contains(s)) {
      return false;
    }
    switch (hint) {
      case 'M':
        return true;
      case '.':
        return !GO_FLOAT.matcher(s).matches();
      default: // 'D' or 'S': int, float or timestamp
        if (isTimestamp(s)) {
          return false;
        }
        String plain = s.replace("_", "");
        if (isGoInt(plain) || (YAML_FLOAT.matcher(plain).matches() && fitsADouble(plain))) {
          return false;
        }
        return !(plain.startsWith("0b") && isBinary(plain.substring(2)))
            && !(plain.startsWith("-0b") && isBinary(plain.substring(3)));
    }
  }

  /** go-yaml quotes these on the way out, though it does not read them as floats (encode.go, isBase60Float). */
  static boolean isBase60Float(String s) {
    if (s.isEmpty()) {
      return false;
    }
    char c = s.charAt(0);
    return (c == '+' || c == '-' || (c >= '0' && c <= '9')) && s.indexOf(':') >= 0
        && BASE60_FLOAT.matcher(s).matches();
  }

  private static char hint(char c) {
    if (c == '+' || c == '-') {
      return 'S';
    }
    if (c >= '0' && c <= '9') {
      return 'D';
    }
    if ("yYnNtTfFoO~".indexOf(c) >= 0) {
      return 'M';
    }
    return c == '.' ? '.' : 0;
  }

  /** strconv.ParseFloat succeeds: it refuses (ErrRange) what overflows a float64, and go-yaml then reads a string. */
  private static boolean fitsADouble(String s) {
    return !Double.isInfinite(Double.parseDouble(s));
  }

  /** strconv.ParseInt(s, 0, 64) or ParseUint(s, 0, 64) would succeed. */
  private static boolean isGoInt(String s) {
    String body = s;
    boolean negative = false;
    if (body.startsWith("+") || body.startsWith("-")) {
      negative = body.startsWith("-");
      body = body.substring(1);
    }
    if (body.isEmpty()) {
      return false;
    }
    int radix = 10;
    String digits = body;
    if (body.length() > 1 && body.charAt(0) == '0') {
      char p = Character.toLowerCase(body.charAt(1));
      if (p == 'x' || p == 'o' || p == 'b') {
        radix = p == 'x' ? 16 : p == 'o' ? 8 : 2;
        digits = body.substring(2);
      } else {
        radix = 8;
        digits = body.substring(1);
      }
    }
    if (digits.isEmpty()) {
      return false;
    }
    for (int i = 0; i < digits.length(); i++) {
      if (Character.digit(digits.charAt(i), radix) < 0 || digits.charAt(i) > 'z') {
        return false;
      }
    }
    BigInteger v = new BigInteger(digits, radix);
    if (negative) {
      return v.compareTo(BigInteger.ONE.shiftLeft(63)) <= 0;
    }
    return v.bitLength() <= 64; // ParseUint takes what ParseInt refuses, up to 2^64-1
  }

  private static boolean isBinary(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c == '0' || c == '1') && new BigInteger(s, 2).bitLength() <= 64;
  }

  /** go-yaml's parseTimestamp: four digits and a dash, then one of its layouts that Go's time.Parse accepts. */
  static boolean isTimestamp(String s) {
    Matcher d = DATE.matcher(s);
    if (d.matches()) {
      return validDate(d.group(1), d.group(2), d.group(3));
    }
    Matcher t = DATE_TIME.matcher(s);
    if (!t.matches() || !validDate(t.group(1), t.group(2), t.group(3))) {
      return false;
    }
    boolean spaced = t.group(4).equals(" ");
    if (spaced && t.group(9) != null) {
      return false; // "2006-1-2 15:4:5.999999999" has no zone
    }
    if (!spaced && t.group(9) == null) {
      return false; // the T layouts end in Z07:00
    }
    int hour = Integer.parseInt(t.group(5));
    int minute = Integer.parseInt(t.group(6));
    int second = Integer.parseInt(t.group(7));
    if (hour > 23 || minute > 59 || second > 59) {
      return false;
    }
    if (t.group(9) != null && !t.group(9).equals("Z")) {
      int zh = Integer.parseInt(t.group(9).substring(1, 3));
      int zm = Integer.parseInt(t.group(9).substring(4, 6));
      return zh <= 24 && zm <= 59;
    }
    return true;
  }

  private static boolean validDate(String year, String month, String day) {
    try {
      LocalDate.of(Integer.parseInt(year), Integer.parseInt(month), Integer.parseInt(day));
      return true;
    } catch (DateTimeException e) {
      return false;
    }
  }
}
