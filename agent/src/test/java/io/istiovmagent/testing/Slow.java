package io.istiovmagent.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A suite that takes minutes (crash consistency, fuzzing, the booted system test): left out of a plain `mvn test`
 * or `mvn verify` so that the edit-and-test loop stays fast; `./dev/test` and CI run it (pom.xml's
 * {@code tests.excluded}).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("slow")
public @interface Slow {}
