package io.istiovmagent.onboarding.generate;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * YAML as istioctl writes mesh.yaml: sigs.k8s.io/yaml's Marshal, which is go-yaml v2's encoder over a tree of maps,
 * lists, strings, numbers, booleans and nulls (JSON unmarshalled into Go's interface{}). Byte for byte: block style
 * with an indent of 2; a sequence in a mapping at its key's indent ({@code key:\n- a}); empty maps and lists as
 * {@code {}} and {@code []}; keys in go-yaml's order ({@link #keyLess}); a string plain when it would read back as a
 * string, double-quoted when it would read back as something else ({@code "true"}, {@code ""}, {@code "8080"},
 * {@code "1:20"}), single-quoted when a plain scalar cannot start or hold what it holds ({@code '{"a":1}'}), a
 * literal block when it has a line break; lines folded at spaces past column 80; a final newline.
 *
 * <p>The rules are go-yaml v2's ({@code sorter.go}, {@code resolve.go}, {@code encode.go}, {@code emitterc.go}),
 * rewritten for the shapes a mesh config has: string keys only, no anchors, tags or flow style beyond empty
 * collections. Anything else is refused with an IllegalArgumentException.
 */
final class GoYaml {
  private static final int BEST_WIDTH = 80;
  private static final int BEST_INDENT = 2;

  private final StringBuilder out = new StringBuilder();
  private int column;
  private boolean whitespace = true;
  private boolean indention = true;
  private int indent = -1;
  private final List<Integer> indents = new ArrayList<>();

  private GoYaml() {}

  /** The YAML of {@code value}: a Map with String keys (any order), a List, a String, a Number, a Boolean or null. */
  static String marshal(Object value) {
    GoYaml y = new GoYaml();
    y.node(value, false, false);
    y.writeIndent(); // the document's end: go-yaml ends the last line
    return y.out.toString();
  }

  // --- nodes ------------------------------------------------------------------------------------------------------

  private void node(Object v, boolean sequenceItem, boolean mappingValue) {
    if (v instanceof Map<?, ?> m) {
      if (m.isEmpty()) {
        flowEmpty('{', '}');
      } else {
        mapping(m);
      }
    } else if (v instanceof List<?> l) {
      if (l.isEmpty()) {
        flowEmpty('[', ']');
      } else {
        sequence(l, mappingValue);
      }
    } else {
      scalar(v, false);
    }
  }

  private void mapping(Map<?, ?> m) {
    List<String> keys = new ArrayList<>();
    for (Object k : m.keySet()) {
      if (!(k instanceof String s)) {
        throw new IllegalArgumentException("only string keys: " + k);
      }
      keys.add(s);
    }
    keys.sort((a, b) -> keyLess(a, b) ? -1 : keyLess(b, a) ? 1 : 0);
    increaseIndent(false, false);
    for (String k : keys) {
      writeIndent();
      // go-yaml writes a key over 128 bytes or with a line break as a complex key ("? "), which no mesh has.
      if (k.getBytes(StandardCharsets.UTF_8).length > 128 || k.codePoints().anyMatch(GoYaml::isBreak)) {
        throw new IllegalArgumentException("a key go-yaml would write as a complex key: " + k);
      }
      scalar(k, true);
      writeIndicator(":", false, false, false);
      node(m.get(k), false, true);
    }
    popIndent();
  }

  private void sequence(List<?> l, boolean mappingValue) {
    increaseIndent(false, mappingValue && !indention);
    for (Object item : l) {
      writeIndent();
      writeIndicator("-", true, false, true);
      node(item, true, false);
    }
    popIndent();
  }

  private void flowEmpty(char open, char close) {
    writeIndicator(String.valueOf(open), true, true, false);
    writeIndicator(String.valueOf(close), false, false, false);
  }

  private void increaseIndent(boolean flow, boolean indentless) {
    indents.add(indent);
    if (indent < 0) {
      indent = flow ? BEST_INDENT : 0;
    } else if (!indentless) {
      indent += BEST_INDENT;
    }
  }

  private void popIndent() {
    indent = indents.remove(indents.size() - 1);
  }

  // --- scalars ----------------------------------------------------------------------------------------------------

  private enum Style { PLAIN, SINGLE_QUOTED, DOUBLE_QUOTED, LITERAL }

  private void scalar(Object v, boolean simpleKey) {
    String text;
    Style style;
    if (v == null) {
      text = "null";
      style = Style.PLAIN;
    } else if (v instanceof Boolean b) {
      text = b ? "true" : "false";
      style = Style.PLAIN;
    } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      text = String.valueOf(((Number) v).longValue());
      style = Style.PLAIN;
    } else if (v instanceof Double || v instanceof Float) {
      text = GoFloat.format(((Number) v).doubleValue());
      style = Style.PLAIN;
    } else if (v instanceof BigDecimal d) {
      text = GoFloat.format(d.doubleValue());
      style = Style.PLAIN;
    } else if (v instanceof String s) {
      text = s;
      boolean canUsePlain = GoYamlResolve.isString(s) && !GoYamlResolve.isBase60Float(s);
      style = s.indexOf('\n') >= 0 ? Style.LITERAL : canUsePlain ? Style.PLAIN : Style.DOUBLE_QUOTED;
    } else {
      throw new IllegalArgumentException("not a YAML scalar: " + v.getClass().getName());
    }
    ScalarAnalysis a = ScalarAnalysis.of(text);
    if (simpleKey && a.multiline) {
      style = Style.DOUBLE_QUOTED;
    }
    if (style == Style.PLAIN && (!a.blockPlainAllowed || (text.isEmpty() && simpleKey))) {
      style = Style.SINGLE_QUOTED;
    }
    if (style == Style.SINGLE_QUOTED && !a.singleQuotedAllowed) {
      style = Style.DOUBLE_QUOTED;
    }
    if (style == Style.LITERAL && (!a.blockAllowed || simpleKey)) {
      style = Style.DOUBLE_QUOTED;
    }
    increaseIndent(true, false);
    switch (style) {
      case PLAIN -> writePlain(text, !simpleKey);
      case SINGLE_QUOTED -> writeSingleQuoted(text, !simpleKey);
      case DOUBLE_QUOTED -> writeDoubleQuoted(text, !simpleKey);
      case LITERAL -> writeLiteral(text);
    }
    popIndent();
  }

  /** What go-yaml's {@code yaml_emitter_analyze_scalar} finds in a value, for a block context. */
  private record ScalarAnalysis(boolean multiline, boolean blockPlainAllowed, boolean singleQuotedAllowed,
      boolean blockAllowed) {
    static ScalarAnalysis of(String value) {
      if (value.isEmpty()) {
        return new ScalarAnalysis(false, true, true, false);
      }
      boolean blockIndicators = value.startsWith("---") || value.startsWith("...");
      boolean lineBreaks = false;
      boolean specialCharacters = false;
      boolean leadingSpace = false;
      boolean leadingBreak = false;
      boolean trailingSpace = false;
      boolean trailingBreak = false;
      boolean breakSpace = false;
      boolean spaceBreak = false;
      boolean precededByWhitespace = true;
      boolean previousSpace = false;
      boolean previousBreak = false;
      int[] cps = value.codePoints().toArray();
      for (int i = 0; i < cps.length; i++) {
        int c = cps[i];
        boolean followedByWhitespace = i + 1 >= cps.length || isBlank(cps[i + 1]);
        if (i == 0) {
          switch (c) {
            case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`' ->
                blockIndicators = true;
            case '?', ':' -> blockIndicators |= followedByWhitespace;
            case '-' -> blockIndicators |= followedByWhitespace;
            default -> { }
          }
        } else {
          if (c == ':' && followedByWhitespace) {
            blockIndicators = true;
          } else if (c == '#' && precededByWhitespace) {
            blockIndicators = true;
          }
        }
        if (!isPrintable(c)) {
          specialCharacters = true;
        }
        if (c == ' ') {
          leadingSpace |= i == 0;
          trailingSpace |= i == cps.length - 1;
          breakSpace |= previousBreak;
          previousSpace = true;
          previousBreak = false;
        } else if (isBreak(c)) {
          lineBreaks = true;
          leadingBreak |= i == 0;
          trailingBreak |= i == cps.length - 1;
          spaceBreak |= previousSpace;
          previousSpace = false;
          previousBreak = true;
        } else {
          previousSpace = false;
          previousBreak = false;
        }
        precededByWhitespace = isBlank(c) || isBreak(c) || c == 0;
      }
      boolean blockPlain = true;
      boolean single = true;
      boolean block = true;
      if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
        blockPlain = false;
      }
      if (trailingSpace) {
        block = false;
      }
      if (breakSpace) {
        blockPlain = false;
        single = false;
      }
      if (spaceBreak || specialCharacters) {
        blockPlain = false;
        single = false;
        block = false;
      }
      if (lineBreaks || blockIndicators) {
        blockPlain = false;
      }
      return new ScalarAnalysis(lineBreaks, blockPlain, single, block);
    }
  }

  private void writePlain(String value, boolean allowBreaks) {
    if (!whitespace) {
      put(' ');
    }
    writeFolding(value, allowBreaks, false);
  }

  private void writeSingleQuoted(String value, boolean allowBreaks) {
    writeIndicator("'", true, false, false);
    writeFolding(value, allowBreaks, true);
    writeIndicator("'", false, false, false);
    whitespace = false;
    indention = false;
  }

  /**
   * The body of a plain or single-quoted scalar (go-yaml's two writers share it): past column 80 a single space that
   * is neither first nor last becomes a line break at the indent; the first of a run of newlines in the value is
   * written twice, since YAML folds a single one into a space; a single quote is doubled inside quotes. (A plain scalar never starts or ends with a space: the
   * analysis forbids it, so the first-and-last condition only matters for the quoted one.)
   */
  private void writeFolding(String value, boolean allowBreaks, boolean singleQuoted) {
    boolean spaces = false;
    boolean breaks = false;
    int[] cps = value.codePoints().toArray();
    for (int i = 0; i < cps.length; i++) {
      int c = cps[i];
      if (c == ' ') {
        if (allowBreaks && !spaces && column > BEST_WIDTH && i > 0 && i < cps.length - 1 && cps[i + 1] != ' ') {
          writeIndent();
        } else {
          put(c);
        }
        spaces = true;
      } else if (isBreak(c)) {
        if (!breaks && c == '\n') {
          putBreak();
        }
        writeBreak(c);
        indention = true;
        breaks = true;
      } else {
        if (breaks) {
          writeIndent();
        }
        if (singleQuoted && c == '\'') {
          put('\'');
        }
        put(c);
        indention = false;
        spaces = false;
        breaks = false;
      }
    }
    whitespace = false;
    indention = false;
  }

  private void writeDoubleQuoted(String value, boolean allowBreaks) {
    boolean spaces = false;
    writeIndicator("\"", true, false, false);
    int[] cps = value.codePoints().toArray();
    for (int i = 0; i < cps.length; i++) {
      int c = cps[i];
      if (!isPrintable(c) || c == 0xFEFF || isBreak(c) || c == '"' || c == '\\') {
        put('\\');
        switch (c) {
          case 0x00 -> put('0');
          case 0x07 -> put('a');
          case 0x08 -> put('b');
          case 0x09 -> put('t');
          case 0x0A -> put('n');
          case 0x0B -> put('v');
          case 0x0C -> put('f');
          case 0x0D -> put('r');
          case 0x1B -> put('e');
          case 0x22 -> put('"');
          case 0x5C -> put('\\');
          case 0x85 -> put('N');
          case 0xA0 -> put('_');
          case 0x2028 -> put('L');
          case 0x2029 -> put('P');
          default -> {
            char kind = c <= 0xFF ? 'x' : c <= 0xFFFF ? 'u' : 'U';
            int digits = kind == 'x' ? 2 : kind == 'u' ? 4 : 8;
            put(kind);
            for (int k = (digits - 1) * 4; k >= 0; k -= 4) {
              put(Character.toUpperCase(Character.forDigit((c >> k) & 0xF, 16)));
            }
          }
        }
        spaces = false;
      } else if (c == ' ') {
        if (allowBreaks && !spaces && column > BEST_WIDTH && i > 0 && i < cps.length - 1) {
          writeIndent();
          if (cps[i + 1] == ' ') {
            put('\\');
          }
        } else {
          put(c);
        }
        spaces = true;
      } else {
        put(c);
        spaces = false;
      }
    }
    writeIndicator("\"", false, false, false);
    whitespace = false;
    indention = false;
  }

  private void writeLiteral(String value) {
    writeIndicator("|", true, false, false);
    int[] cps = value.codePoints().toArray();
    if (cps.length > 0 && (cps[0] == ' ' || isBreak(cps[0]))) {
      writeIndicator(String.valueOf(BEST_INDENT), false, false, false);
    }
    String chomp = "";
    if (cps.length == 0 || !isBreak(cps[cps.length - 1])) {
      chomp = "-";
    } else if (cps.length == 1 || isBreak(cps[cps.length - 2])) {
      chomp = "+";
    }
    if (!chomp.isEmpty()) {
      writeIndicator(chomp, false, false, false);
    }
    putBreak();
    indention = true;
    whitespace = true;
    boolean breaks = true;
    for (int c : cps) {
      if (isBreak(c)) {
        writeBreak(c);
        indention = true;
        breaks = true;
      } else {
        if (breaks) {
          writeIndent();
        }
        put(c);
        indention = false;
        breaks = false;
      }
    }
  }

  // --- the writer -------------------------------------------------------------------------------------------------

  private void writeIndent() {
    int target = Math.max(indent, 0);
    if (!indention || column > target || (column == target && !whitespace)) {
      putBreak();
    }
    while (column < target) {
      put(' ');
    }
    whitespace = true;
    indention = true;
  }

  private void writeIndicator(String indicator, boolean needWhitespace, boolean isWhitespace, boolean isIndention) {
    if (needWhitespace && !whitespace) {
      put(' ');
    }
    for (int i = 0; i < indicator.length(); i++) {
      put(indicator.charAt(i));
    }
    whitespace = isWhitespace;
    indention = indention && isIndention;
  }

  private void put(int codePoint) {
    out.appendCodePoint(codePoint);
    column++;
  }

  private void putBreak() {
    out.append('\n');
    column = 0;
  }

  /** A line break of the value: '\n' as itself, the others as go-yaml's write_break copies them. */
  private void writeBreak(int c) {
    if (c == '\n') {
      putBreak();
    } else {
      out.appendCodePoint(c);
      column = 0;
    }
  }

  // --- characters, as go-yaml's yamlprivateh.go classes them ------------------------------------------------------

  static boolean isBreak(int c) {
    return c == '\r' || c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
  }

  static boolean isBlank(int c) {
    return c == ' ' || c == '\t';
  }

  /** is_printable: LF, ASCII's printable range, and the BMP but surrogates, U+FEFF, U+FFFE and U+FFFF. */
  static boolean isPrintable(int c) {
    return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c >= 0xA0 && c <= 0xD7FF)
        || (c >= 0xE000 && c <= 0xFFFD && c != 0xFEFF);
  }

  // --- key order --------------------------------------------------------------------------------------------------

  /**
   * go-yaml's keyList.Less for two string keys: rune by rune; two letters by code point; a letter after a
   * non-letter; two non-letters as the numbers their digit runs spell (leading zeros mattering only after a
   * non-zero digit), else by code point; a prefix first.
   */
  static boolean keyLess(String a, String b) {
    int[] ar = a.codePoints().toArray();
    int[] br = b.codePoints().toArray();
    for (int i = 0; i < ar.length && i < br.length; i++) {
      if (ar[i] == br[i]) {
        continue;
      }
      boolean al = Character.isLetter(ar[i]);
      boolean bl = Character.isLetter(br[i]);
      if (al && bl) {
        return ar[i] < br[i];
      }
      if (al || bl) {
        return bl;
      }
      long an = 0;
      long bn = 0;
      if (ar[i] == '0' || br[i] == '0') {
        for (int j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
          if (ar[j] != '0') {
            an = 1;
            bn = 1;
            break;
          }
        }
      }
      int ai = i;
      while (ai < ar.length && isDigit(ar[ai])) {
        an = an * 10 + (ar[ai] - '0');
        ai++;
      }
      int bi = i;
      while (bi < br.length && isDigit(br[bi])) {
        bn = bn * 10 + (br[bi] - '0');
        bi++;
      }
      if (an != bn) {
        return an < bn;
      }
      if (ai != bi) {
        return ai < bi;
      }
      return ar[i] < br[i];
    }
    return ar.length < br.length;
  }

  /** unicode.IsDigit restricted to what the arithmetic above can use: ASCII digits (others never meet in keys). */
  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }
}
