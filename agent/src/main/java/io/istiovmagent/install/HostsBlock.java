package io.istiovmagent.install;

import io.istiovmagent.verify.HostsEntry;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The agent's block in /etc/hosts, as a pure edit of the file's text. Every line the agent does not own is kept
 * byte for byte. A foreign line that maps a name the block manages would shadow it (the manual guide's
 * {@code cat hosts >> /etc/hosts}), so it is commented out with a marker; if it also maps other names, those stay
 * mapped on a tagged line beneath it. {@link #remove} undoes all of it.
 */
public final class HostsBlock {
  public static final String BEGIN = "# BEGIN istio-vm-agent";
  public static final String END = "# END istio-vm-agent";
  /** Prefix of a foreign line the agent commented out. */
  public static final String DISABLED = "#istio-vm-agent-disabled# ";
  /** Suffix of a line the agent added to keep a disabled line's other names mapped. */
  public static final String KEPT = " # istio-vm-agent: kept from the line above";

  /** The new text and what happened to foreign lines. */
  public record Edit(String text, List<String> disabledLines) {}

  private HostsBlock() {}

  /** Puts the block for these entries in place (where it was, else at the end), or removes it when there are none. */
  public static Edit apply(String current, List<HostsEntry> entries) {
    Stripped base = strip(current);
    Set<String> managed = new LinkedHashSet<>();
    entries.forEach(e -> managed.addAll(e.names()));
    List<String> block = new ArrayList<>();
    if (!entries.isEmpty()) {
      block.add(BEGIN);
      entries.forEach(e -> block.add(e.line()));
      block.add(END);
    }
    List<String> out = new ArrayList<>();
    List<String> disabled = new ArrayList<>();
    for (int i = 0; i < base.lines.size(); i++) {
      if (i == base.blockAt) {
        out.addAll(block);
      }
      String line = base.lines.get(i);
      List<String> names = names(line);
      if (names.stream().noneMatch(n -> managed.contains(n.toLowerCase(Locale.ROOT)))) {
        out.add(line);
        continue;
      }
      disabled.add(line);
      out.add(DISABLED + line);
      List<String> others = names.stream().filter(n -> !managed.contains(n.toLowerCase(Locale.ROOT))).toList();
      if (!others.isEmpty()) {
        out.add(address(line) + " " + String.join(" ", others) + KEPT);
      }
    }
    boolean atEnd = base.blockAt < 0 || base.blockAt >= base.lines.size();
    if (atEnd) {
      out.addAll(block);
    }
    return new Edit(Lines.join(out, base.endsWithNewline || atEnd && !block.isEmpty()), List.copyOf(disabled));
  }

  /**
   * The file as it was before the agent touched it: block gone, disabled lines restored, kept lines dropped. A
   * file that had no final newline keeps the one added when the block was appended after its last line.
   */
  public static String remove(String current) {
    Stripped s = strip(current);
    return Lines.join(s.lines, s.endsWithNewline);
  }

  /** The foreign lines, and the index among them where the block stood (-1 when there was none). */
  private record Stripped(List<String> lines, int blockAt, boolean endsWithNewline) {}

  private static Stripped strip(String current) {
    Lines in = Lines.of(current);
    List<String> out = new ArrayList<>();
    int blockAt = -1;
    boolean inBlock = false;
    for (int i = 0; i < in.lines.size(); i++) {
      String line = in.lines.get(i);
      if (line.equals(BEGIN)) {
        // A BEGIN with no END after it (a truncated edit) drops only the marker: the lines after it may be foreign.
        inBlock = in.lines.subList(i + 1, in.lines.size()).contains(END);
        if (blockAt < 0) {
          blockAt = out.size();
        }
      } else if (inBlock) {
        inBlock = !line.equals(END);
      } else if (line.startsWith(DISABLED)) {
        out.add(line.substring(DISABLED.length()));
      } else if (!line.endsWith(KEPT)) {
        out.add(line);
      }
    }
    return new Stripped(out, blockAt, in.endsWithNewline);
  }

  /** The host names a hosts(5) line maps; none for comments and blank lines. */
  static List<String> names(String line) {
    int hash = line.indexOf('#');
    String content = (hash >= 0 ? line.substring(0, hash) : line).strip();
    if (content.isEmpty()) {
      return List.of();
    }
    String[] f = content.split("[ \t]+");
    List<String> out = new ArrayList<>();
    for (int i = 1; i < f.length; i++) {
      out.add(f[i]);
    }
    return out;
  }

  private static String address(String line) {
    return line.strip().split("[ \t]+")[0];
  }

  private record Lines(List<String> lines, boolean endsWithNewline) {
    static Lines of(String text) {
      if (text.isEmpty()) {
        return new Lines(List.of(), false);
      }
      boolean nl = text.endsWith("\n");
      String body = nl ? text.substring(0, text.length() - 1) : text;
      return new Lines(List.of(body.split("\n", -1)), nl);
    }

    static String join(List<String> lines, boolean trailingNewline) {
      if (lines.isEmpty()) {
        return "";
      }
      return String.join("\n", lines) + (trailingNewline ? "\n" : "");
    }
  }
}
