package io.istiovmagent.onboarding.generate;

/**
 * An input of the generator (the WorkloadGroup, the mesh config, a proxy-config annotation, the injector's values)
 * is not what it can use; the message names the input, the field and what is wrong with it, and holds no secret.
 */
public final class InvalidInputException extends Exception {
  InvalidInputException(String message) {
    super(message, null, false, false);
  }
}
