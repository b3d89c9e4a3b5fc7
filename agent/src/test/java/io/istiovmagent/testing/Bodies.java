package io.istiovmagent.testing;

import java.io.IOException;
import mockwebserver3.MockResponseBody;
import okio.BufferedSink;

/** Response bodies for MockWebServer that its builder does not offer. */
public final class Bodies {
  private Bodies() {}

  /** {@code n} zero bytes with no declared length: the client can only count while reading. */
  public static MockResponseBody unknownLength(int n) {
    return new MockResponseBody() {
      @Override
      public long getContentLength() {
        return -1;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.write(new byte[n]);
      }
    };
  }
}
