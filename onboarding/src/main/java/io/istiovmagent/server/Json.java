package io.istiovmagent.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.istiovmagent.protocol.ErrorBody;
import java.nio.charset.StandardCharsets;

/** The server's one JSON mapper: strict about types, tolerant of unknown fields, compact output. */
final class Json {
  /**
   * Strict scalars: "17" is not a sequence number and 5 is not a status, so a confused agent gets a 400 that names
   * the field instead of a silently coerced value. Depth and string limits bound what a hostile body can cost.
   */
  static final ObjectMapper MAPPER = strict();

  private Json() {}

  private static ObjectMapper strict() {
    JsonFactory factory = JsonFactory.builder()
        .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).maxStringLength(64 * 1024)
            .maxNumberLength(32).build())
        .build();
    JsonMapper mapper = JsonMapper.builder(factory)
        .addModule(new JavaTimeModule())
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(SerializationFeature.INDENT_OUTPUT)
        .build();
    fail(mapper, LogicalType.Textual, CoercionInputShape.Integer, CoercionInputShape.Float,
        CoercionInputShape.Boolean);
    fail(mapper, LogicalType.Integer, CoercionInputShape.String, CoercionInputShape.EmptyString,
        CoercionInputShape.Float, CoercionInputShape.Boolean);
    fail(mapper, LogicalType.Boolean, CoercionInputShape.String, CoercionInputShape.EmptyString,
        CoercionInputShape.Integer, CoercionInputShape.Float);
    return mapper;
  }

  private static void fail(JsonMapper mapper, LogicalType type, CoercionInputShape... shapes) {
    for (CoercionInputShape shape : shapes) {
      mapper.coercionConfigFor(type).setCoercion(shape, CoercionAction.Fail);
    }
  }

  static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("server responses are plain data and always serialise", e);
    }
  }

  static String text(Object value) {
    return new String(bytes(value), StandardCharsets.UTF_8);
  }

  /** The body of every error response. */
  static byte[] error(String message) {
    return bytes(new ErrorBody(message));
  }
}
