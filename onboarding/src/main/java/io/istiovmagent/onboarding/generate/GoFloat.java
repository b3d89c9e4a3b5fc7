package io.istiovmagent.onboarding.generate;

import java.math.BigDecimal;

/**
 * A float64 as go-yaml v2 writes it: Go's {@code strconv.FormatFloat(f, 'g', -1, 64)}, the shortest decimal that
 * reads back as the same double, in exponent form ({@code 1e+06}, {@code 1.5e-05}: at least two exponent digits)
 * when its decimal exponent is below -4 or at least 6 (strconv's threshold for the shortest form), else plain; and
 * +Inf, -Inf, NaN as .inf, -.inf, .nan.
 */
final class GoFloat {
  private GoFloat() {}

  static String format(double f) {
    if (Double.isNaN(f)) {
      return ".nan";
    }
    if (Double.isInfinite(f)) {
      return f > 0 ? ".inf" : "-.inf";
    }
    if (f == 0) {
      return (1 / f < 0) ? "-0" : "0";
    }
    // The shortest digits that read back as f: Java's Double.toString gives them (JDK 19 made it exact; JDK 17's can
    // carry one digit more in rare cases, which then shows here too).
    BigDecimal d = new BigDecimal(Double.toString(Math.abs(f))).stripTrailingZeros();
    String digits = d.unscaledValue().toString();
    int exp = digits.length() - 1 - d.scale(); // the decimal exponent of the first digit
    int eprec = 6;
    StringBuilder s = new StringBuilder(f < 0 ? "-" : "");
    if (exp < -4 || exp >= eprec) {
      s.append(digits.charAt(0));
      if (digits.length() > 1) {
        s.append('.').append(digits, 1, digits.length());
      }
      s.append('e').append(exp < 0 ? '-' : '+');
      int a = Math.abs(exp);
      if (a < 10) {
        s.append('0');
      }
      s.append(a);
    } else {
      s.append(d.toPlainString());
    }
    return s.toString();
  }
}
