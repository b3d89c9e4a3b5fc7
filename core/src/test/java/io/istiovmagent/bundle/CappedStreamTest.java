package io.istiovmagent.bundle;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import org.junit.jupiter.api.Test;

class CappedStreamTest {
  /**
   * An inflating stream decompresses everything it is asked to skip before returning; a tar entry declaring 8 GiB
   * (hostile corpus: archive/gzip-bomb-skipped-directory-content) made the reader inflate 1 GiB before the cap
   * counted it. The skip may ask for one byte past the cap, no more.
   */
  @Test
  void skipAsksForAtMostOneBytePastTheCap() {
    long[] asked = {0};
    InputStream endless = new InputStream() {
      @Override
      public int read() {
        asked[0]++;
        return 0;
      }

      @Override
      public long skip(long n) {
        asked[0] += n;
        return n;
      }
    };
    CappedStream capped = new CappedStream(endless, 1000);
    assertThrows(CappedStream.LimitExceeded.class, () -> capped.skipNBytes(8L << 30));
    assertTrue(asked[0] <= 1001, "asked the inflater for " + asked[0] + " bytes");
  }
}
