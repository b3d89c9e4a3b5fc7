package io.istiovmagent.verify;

import io.istiovmagent.bundle.Problem;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Collects the problems and warnings of one verification, so a user sees every reason at once. */
final class Problems {
  private final List<Problem> errors = new ArrayList<>();
  private final List<Problem> warnings = new ArrayList<>();

  void error(String file, String rule, String message) {
    errors.add(new Problem(file, rule, message));
  }

  void warn(String file, String rule, String message) {
    warnings.add(new Problem(file, rule, message));
  }

  void report(boolean asWarning, String file, String rule, String message) {
    if (asWarning) {
      warn(file, rule, message);
    } else {
      error(file, rule, message);
    }
  }

  boolean hasErrors() {
    return !errors.isEmpty();
  }

  int errorCount() {
    return errors.size();
  }

  List<Problem> errors() {
    return List.copyOf(errors);
  }

  List<Problem> warnings() {
    return List.copyOf(warnings);
  }

  /** Untrusted text (a key, a claim, a name) as a message quotes it: one printable line of at most max chars. */
  static String shown(String s, int max) {
    return Problem.oneLine(s, max);
  }

  /** Decodes strict UTF-8 with no NUL; on failure records the problem and returns null. */
  String text(String file, byte[] bytes) {
    for (byte b : bytes) {
      if (b == 0) {
        error(file, "encoding", "contains a NUL byte; it must be a text file");
        return null;
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      error(file, "encoding", "is not valid UTF-8 text");
      return null;
    }
  }
}
