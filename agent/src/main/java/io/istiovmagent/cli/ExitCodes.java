package io.istiovmagent.cli;

/** Exit codes, after sysexits.h, so scripts and systemd can tell failures apart. */
final class ExitCodes {
  public static final int OK = 0;
  /** The command line is wrong. */
  public static final int USAGE = 64;
  /** The bundle was obtained but refused by verification; nothing was written. */
  public static final int DATA_ERROR = 65;
  /** The bundle could not be obtained: unreachable, refused credential, not found, TLS, server error. */
  public static final int UNAVAILABLE = 69;
  /** An unexpected internal error. */
  public static final int SOFTWARE = 70;
  /** Writing under the root failed. */
  public static final int IO_ERROR = 74;
  /** The configuration, or a file it names (CA, token), is wrong. */
  public static final int CONFIG = 78;

  private ExitCodes() {}
}
