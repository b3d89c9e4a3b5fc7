package io.istiovmagent.testing;

import io.istiovmagent.sidecar.ServiceManager;
import io.istiovmagent.sidecar.ServiceState;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * istio.service as a test wants systemd to answer: a state the test sets, every question counted, actions ignored.
 * {@link #set} tells the watchers at once, as systemd's D-Bus signals do; {@link #setQuietly} does not, as for a
 * change that only the next look (or the sidecar's exit watcher) can notice.
 */
public final class FakeSystemd implements ServiceManager {
  private volatile ServiceState state;
  private final AtomicInteger shows = new AtomicInteger();
  private final List<Runnable> watchers = new CopyOnWriteArrayList<>();

  /** Starts as active/running with main PID {@code pid}. */
  public FakeSystemd(long pid) {
    this.state = new ServiceState("loaded", "active", "running", pid, 0, "enabled");
  }

  public void set(ServiceState s) {
    state = s;
    watchers.forEach(Runnable::run);
  }

  public void setQuietly(ServiceState s) {
    state = s;
  }

  /** How often the state was asked for. */
  public int shows() {
    return shows.get();
  }

  @Override
  public boolean available() {
    return true;
  }

  @Override
  public ServiceState state(String unit) {
    shows.incrementAndGet();
    return state;
  }

  @Override
  public void start(String unit) {}

  @Override
  public void restart(String unit) {}

  @Override
  public void enable(String unit) {}

  @Override
  public void watch(String unit, Runnable onChange) {
    watchers.add(onChange);
  }
}
