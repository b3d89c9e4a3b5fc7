package io.istiovmagent.server;

import java.util.List;
import java.util.Objects;

/**
 * Enrolment (POST /v1/enroll/{namespace}/{group}): a VM presents a join token once and gets a credential of its own,
 * bound to its machine id, which it uses from then on. Reasons go to the VM and say what to do; never a secret but
 * the credential handed to the VM that enrolled.
 */
public interface Enroller {
  Outcome enrol(String namespace, String group, String joinToken, String machineId, String hostname);

  /**
   * Enrols a VM that also said which addresses it has ({@code addresses}, as the agent's reports list them, maybe
   * empty), so that it can be registered at once; an enroller that registers nothing ignores them.
   */
  default Outcome enrol(String namespace, String group, String joinToken, String machineId, String hostname,
      List<String> addresses) {
    return enrol(namespace, group, joinToken, machineId, hostname);
  }

  /** What came of an enrolment. */
  sealed interface Outcome {
    /** 201: the VM's credential, shown this once. */
    record Enrolled(String credential) implements Outcome {
      public Enrolled {
        Objects.requireNonNull(credential, "credential == null");
      }

      @Override
      public String toString() {
        return "Enrolled[credential redacted]";
      }
    }

    /** Refused with an HTTP status (400, 401, 403, 409, 503) and why. */
    record Refused(int status, String reason) implements Outcome {}
  }
}
