package io.istiovmagent.server;

import java.util.Optional;

/** Credentials kept elsewhere than the token file (the VMs' own, in the cluster): what one presented allows. */
public interface Authenticator {
  /** The grant of {@code bearer} (the token of an Authorization header), or empty when it is not one of these. */
  Optional<Grant> authenticate(String bearer);
}
