package io.istiovmagent.util;

import java.io.PrintStream;

/**
 * One event per line with a journald priority prefix ({@code <3>} error ... {@code <7>} debug) and no timestamp:
 * the journal adds it. Callers never pass secrets; nothing here could tell.
 */
public final class Log {
  private final PrintStream out;
  private final boolean debug;

  public Log(PrintStream out, boolean debug) {
    this.out = out;
    this.debug = debug;
  }

  public void error(String message) {
    write(3, message);
  }

  public void warn(String message) {
    write(4, message);
  }

  public void notice(String message) {
    write(5, message);
  }

  public void info(String message) {
    write(6, message);
  }

  public void debug(String message) {
    if (debug) {
      write(7, message);
    }
  }

  private void write(int priority, String message) {
    // A message must stay one journal entry: fold any newline.
    out.println("<" + priority + ">" + message.replace('\n', ' ').replace('\r', ' '));
  }
}
