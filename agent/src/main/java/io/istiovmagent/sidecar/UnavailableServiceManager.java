package io.istiovmagent.sidecar;

import java.util.Objects;

/** The service manager where there is no systemd: it reports that, and refuses every action with the reason. */
final class UnavailableServiceManager implements ServiceManager {
  private final String why;

  UnavailableServiceManager(String why) {
    this.why = Objects.requireNonNull(why, "why == null");
  }

  @Override
  public boolean available() {
    return false;
  }

  @Override
  public ServiceState state(String unit) throws ServiceManagerException {
    throw refused("cannot read the state of " + unit);
  }

  @Override
  public void start(String unit) throws ServiceManagerException {
    throw refused("cannot start " + unit);
  }

  @Override
  public void restart(String unit) throws ServiceManagerException {
    throw refused("cannot restart " + unit);
  }

  @Override
  public void enable(String unit) throws ServiceManagerException {
    throw refused("cannot enable " + unit);
  }

  private ServiceManagerException refused(String what) {
    return new ServiceManagerException(ServiceManagerException.Kind.UNAVAILABLE, what + ": no systemd to talk to ("
        + why + "); the sidecar is not supervised here, start it by other means");
  }

  @Override
  public String toString() {
    return "no systemd (" + why + ")";
  }
}
