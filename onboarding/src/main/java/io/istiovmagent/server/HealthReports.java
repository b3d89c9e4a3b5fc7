package io.istiovmagent.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import io.istiovmagent.protocol.HealthReport;
import java.io.IOException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/** Reads and checks one health report; every refusal is a reason the agent's operator can act on. */
final class HealthReports {
  static final Set<String> STATUSES = Set.of("HEALTHY", "DEGRADED", "UNHEALTHY", "STOPPING");
  static final long DEFAULT_HEARTBEAT_SECONDS = 60;
  static final long MAX_HEARTBEAT_SECONDS = 86_400;
  /** machineId is 32 hex digits and a host name at most 253 characters; anything longer is not either. */
  static final int MAX_ID_LENGTH = 253;

  /** The outcome of reading a body. */
  sealed interface Result {
    record Valid(HealthReport report, Instant observedAt) implements Result {}

    record Invalid(String reason) implements Result {}
  }

  private HealthReports() {}

  static Result parse(byte[] body) {
    if (body.length == 0) {
      return new Result.Invalid("the body is empty; send one JSON health report");
    }
    HealthReport r;
    // The trailing-value check is made here, by token, rather than by the mapper's FAIL_ON_TRAILING_TOKENS: its
    // exception is a MismatchedInputException like any wrong type, told apart only by its message.
    try (JsonParser p = Json.MAPPER.createParser(body)) {
      r = Json.MAPPER.readerFor(HealthReport.class).without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .readValue(p);
      if (p.nextToken() != null) {
        return new Result.Invalid("the body holds more than one JSON value; send exactly one report");
      }
    } catch (JsonMappingException e) {
      return new Result.Invalid(typeProblem(e));
    } catch (StreamConstraintsException e) {
      return new Result.Invalid("the body nests too deep or holds too long a value for a health report");
    } catch (JacksonException e) {
      return new Result.Invalid("the body is not valid JSON" + at(e) + "; send one JSON object");
    } catch (IOException e) {
      return new Result.Invalid("the body cannot be read as JSON");
    }
    if (r == null) {
      return new Result.Invalid("the body must be a JSON object, not null");
    }
    return check(r);
  }

  /**
   * The report with every occurrence of {@code secret} replaced, the same instance when there is none, or empty
   * when the result would no longer be a valid report. A report never carries a credential, but one that does must
   * not put it into the VM list or the reports file.
   */
  static Optional<HealthReport> without(HealthReport r, String secret) {
    if (secret == null || secret.isEmpty()) {
      return Optional.of(r);
    }
    String json = Json.text(r);
    String quoted = Json.text(secret);
    String escaped = quoted.substring(1, quoted.length() - 1);
    if (!json.contains(escaped)) {
      return Optional.of(r);
    }
    try {
      HealthReport redacted = Json.MAPPER.readValue(json.replace(escaped, "[redacted]"), HealthReport.class);
      return check(redacted) instanceof Result.Valid ? Optional.of(redacted) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Result check(HealthReport r) {
    String statuses = STATUSES.stream().sorted().collect(Collectors.joining(", "));
    if (r.status() == null) {
      return new Result.Invalid("'status' is missing; it is one of " + statuses);
    }
    if (!STATUSES.contains(r.status())) {
      return new Result.Invalid("'status' is '" + Names.printable(r.status(), 40) + "'; it must be one of "
          + statuses);
    }
    Instant observedAt;
    try {
      observedAt = r.observedAt() == null ? null
          : OffsetDateTime.parse(r.observedAt(), DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      observedAt = null;
    }
    if (observedAt == null) {
      return new Result.Invalid("'observedAt' must be an RFC 3339 time with an offset, e.g. 2026-11-25T12:00:01Z");
    }
    if (r.sequence() == null || r.sequence() < 1) {
      return new Result.Invalid("'sequence' must be a positive integer (1 for an agent's first report)");
    }
    HealthReport.Host h = r.host();
    if (h == null || (blank(h.machineId()) && blank(h.hostname()))) {
      return new Result.Invalid("'host.machineId' or 'host.hostname' is required to tell this VM from others");
    }
    if (length(h.machineId()) > MAX_ID_LENGTH || length(h.hostname()) > MAX_ID_LENGTH) {
      return new Result.Invalid("'host.machineId' and 'host.hostname' may be at most " + MAX_ID_LENGTH
          + " characters");
    }
    HealthReport.Workload w = r.workload();
    if (w == null || blank(w.namespace()) || blank(w.group())) {
      return new Result.Invalid("'workload.namespace' and 'workload.group' are required");
    }
    Long hb = r.agent() == null ? null : r.agent().heartbeatSeconds();
    if (hb != null && (hb < 1 || hb > MAX_HEARTBEAT_SECONDS)) {
      return new Result.Invalid("'agent.heartbeatSeconds' must be between 1 and " + MAX_HEARTBEAT_SECONDS);
    }
    return new Result.Valid(r, observedAt);
  }

  /** "'sequence' must be an integer": the field's path and the type wanted, never the value sent. */
  private static String typeProblem(JsonMappingException e) {
    List<JsonMappingException.Reference> path = e.getPath();
    if (path.isEmpty()) {
      return "the body must be a JSON object with the report's fields";
    }
    StringBuilder field = new StringBuilder();
    for (JsonMappingException.Reference ref : path) {
      if (ref.getFieldName() != null) {
        field.append(field.length() == 0 ? "" : ".").append(Names.printable(ref.getFieldName(), 40));
      } else if (ref.getIndex() >= 0) {
        field.append('[').append(ref.getIndex()).append(']');
      }
    }
    if (e.getCause() instanceof InputCoercionException) {
      return "'" + field + "' is out of range for a 64-bit integer";
    }
    Class<?> target = e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException m
        ? m.getTargetType() : null;
    return "'" + field + "' " + (target == null ? "has the wrong type" : "must be " + describe(target));
  }

  private static String describe(Class<?> t) {
    if (t == String.class) {
      return "a string";
    }
    if (t == Long.class || t == Integer.class || t == long.class || t == int.class) {
      return "an integer";
    }
    if (t == Boolean.class || t == boolean.class) {
      return "true or false";
    }
    if (List.class.isAssignableFrom(t)) {
      return "a list";
    }
    return "an object";
  }

  private static String at(JacksonException e) {
    JsonLocation loc = e.getLocation();
    return loc == null ? "" : " (line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ")";
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  private static int length(String s) {
    return s == null ? 0 : s.length();
  }
}
