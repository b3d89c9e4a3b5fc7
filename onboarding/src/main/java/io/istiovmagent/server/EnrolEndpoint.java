package io.istiovmagent.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.istiovmagent.server.metrics.ServiceMetrics;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * POST /v1/enroll/{namespace}/{group}: the join token in the Authorization header, {@code {"machineId": "...",
 * "hostname": "...", "addresses": ["..."]}} in the body; a 201 carries the VM's own credential. The addresses
 * (optional; at most {@value #MAX_ADDRESSES}, each an IP literal) let the service register the VM at once. An endpoint without an {@link Enroller}
 * (a directory of istioctl output) answers 404, and the agent goes on with its join token.
 */
final class EnrolEndpoint {
  static final int MAX_BODY_BYTES = 4096;
  static final int MAX_ADDRESSES = 32;
  private static final java.util.regex.Pattern LITERAL = java.util.regex.Pattern.compile("[0-9A-Fa-f:.]{2,45}");

  private final Optional<Enroller> enroller;
  private final ServiceMetrics metrics;

  EnrolEndpoint(Optional<Enroller> enroller, ServiceMetrics metrics) {
    this.enroller = enroller;
    this.metrics = metrics;
  }

  /** {@code namespace} and {@code group} are DNS labels, checked by the router. */
  Response post(List<String> authorization, String namespace, String group, byte[] body) {
    if (enroller.isEmpty()) {
      return Response.error(404, "this endpoint does not enrol VMs (it serves a directory of istioctl output); "
          + "use the join token for every request");
    }
    Response r = enrol(authorization, namespace, group, body);
    metrics.enrolment(r.status());
    return r;
  }

  private Response enrol(List<String> authorization, String namespace, String group, byte[] body) {
    Optional<String> joinToken = JoinTokens.bearer(authorization);
    if (joinToken.isEmpty()) {
      return Router.UNAUTHORIZED;
    }
    JsonNode request;
    try {
      request = Json.MAPPER.readTree(body);
    } catch (IOException e) { // not JSON
      return Response.error(400, "the body must be JSON: {\"machineId\": \"<32 hex digits of /etc/machine-id>\", "
          + "\"hostname\": \"...\"}");
    }
    if (request == null || !request.path("machineId").isTextual()) {
      return Response.error(400, "machineId (a string, /etc/machine-id) is required");
    }
    // Kept in the credential's Secret, shown by credential list and logged: printable and short, whatever was sent.
    String hostname = request.path("hostname").isTextual() ? Names.printable(request.path("hostname").textValue(),
        253) : "";
    List<String> addresses = new ArrayList<>();
    for (JsonNode a : request.path("addresses")) {
      if (a.isTextual() && LITERAL.matcher(a.textValue()).matches() && addresses.size() < MAX_ADDRESSES) {
        addresses.add(a.textValue()); // anything else is not an address a WorkloadEntry could carry: left out
      }
    }
    Enroller.Outcome outcome = enroller.get().enrol(namespace, group, joinToken.get(),
        request.path("machineId").textValue(), hostname, addresses);
    if (outcome instanceof Enroller.Outcome.Refused r) {
      return r.status() == 401 ? Response.error(401, r.reason()).with("WWW-Authenticate", "Bearer")
          : r.status() == 503 ? Response.unavailable(r.reason(), 15) : Response.error(r.status(), r.reason());
    }
    Map<String, String> answer = new LinkedHashMap<>();
    answer.put("credential", ((Enroller.Outcome.Enrolled) outcome).credential());
    answer.put("namespace", namespace);
    answer.put("group", group);
    answer.put("machineId", request.path("machineId").textValue());
    return Response.json(201, answer);
  }
}
