package io.istiovmagent.packaging;

import io.istiovmagent.onboarding.OnboardingMain;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The onboarding service as a process of its own: {@code istio-vm-onboarding} from this test's class path, on the
 * JVM running the test. The package under test holds no server; the VM side is the packaged launcher.
 */
final class OnboardingService {
  private OnboardingService() {}

  /** The command line of {@code istio-vm-onboarding ARGS...}. */
  static List<String> command(String... args) {
    List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), OnboardingMain.class.getName()));
    argv.addAll(List.of(args));
    return argv;
  }
}
