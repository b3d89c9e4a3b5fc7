package io.istiovmagent.systemd;

import java.util.Optional;

/** The notifier used when systemd did not ask to be notified. */
final class NoopNotifier implements Notifier {
  static final NoopNotifier INSTANCE = new NoopNotifier();

  private NoopNotifier() {}

  @Override
  public boolean enabled() {
    return false;
  }

  @Override
  public boolean send(String state) {
    return true;
  }

  @Override
  public Optional<String> lastError() {
    return Optional.empty();
  }

  @Override
  public String toString() {
    return "Notifier[none]";
  }
}
