package io.istiovmagent.sidecar;

/**
 * Reads and drives systemd units (istio.service). Actions are queued, not awaited: the caller watches
 * {@link #state} to see what came of them.
 */
public interface ServiceManager {

  /** Whether there is a systemd to talk to at all; false in containers, test roots and non-systemd machines. */
  boolean available();

  /** What systemd says about {@code unit} now; a unit it does not know comes back with loadState "not-found". */
  ServiceState state(String unit) throws ServiceManagerException;

  /** Queues a start of {@code unit}; a no-op in systemd when it is already running. */
  void start(String unit) throws ServiceManagerException;

  /** Queues a restart of {@code unit} (a start when it is stopped). */
  void restart(String unit) throws ServiceManagerException;

  /** Makes {@code unit} start at boot. */
  void enable(String unit) throws ServiceManagerException;

  /**
   * Asks to be told at once when {@code unit} changes state, where the manager can (systemd's D-Bus signals); the
   * daemon then looks without waiting for its next tick. A manager that can only be polled does nothing here.
   */
  default void watch(String unit, Runnable onChange) {}

  /**
   * A service manager for a machine with no systemd: {@link #available()} is false, and every call throws
   * {@link ServiceManagerException.Kind#UNAVAILABLE} with {@code why} in its message.
   */
  static ServiceManager unavailable(String why) {
    return new UnavailableServiceManager(why);
  }
}
