package io.istiovmagent.onboarding.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostsTest {
  @ParameterizedTest(name = "{0}, revision [{1}] -> [{2}]")
  @CsvSource(delimiter = '|', value = {
      "10.10.10.10          |       | 10.10.10.10 istiod.istio-system.svc\\n",
      "10.10.10.10          | default | 10.10.10.10 istiod.istio-system.svc\\n",
      "10.10.10.10          | rev-1 | 10.10.10.10 istiod-rev-1.istio-system.svc\\n",
      "2001:db8::10         |       | 2001:db8::10 istiod.istio-system.svc\\n",
      "::ffff:192.0.2.1     |       | ::ffff:192.0.2.1 istiod.istio-system.svc\\n",
      "a.elb.example.com    |       | ''",
      "010.10.10.10         |       | ''",
      "10.10.10            |       | ''",
      "256.1.1.1           |       | ''",
      "2001:db8::zz        |       | ''",
      "''                  |       | ''",
  })
  void mapsIstiodToTheGatewaysIpOrWritesNothing(String address, String revision, String expected) {
    String want = expected.replace("\\n", "\n");
    assertEquals(want, new String(Hosts.render(Optional.of(address), revision == null ? "" : revision,
        "istio-system"), StandardCharsets.US_ASCII));
  }
}
