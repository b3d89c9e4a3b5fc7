package io.istiovmagent.server;

/**
 * The endpoint's routes, told from a request's raw path alone (the method and the credential come after). The
 * pattern names a route in the metrics: never the path itself, which holds namespaces and machine ids. Pure.
 */
enum Route {
  HEALTHZ("/healthz"),
  /** The fleet page's static files, one route for them all. */
  FLEET_PAGE("/fleet"),
  ENROL("/v1/enroll/{namespace}/{group}"),
  HEALTH("/v1/health"),
  VMS("/v1/vms"),
  VM("/v1/vms/{namespace}/{group}/{machineId}"),
  BUNDLE("/v1/bundle/{namespace}/{group}"),
  /** Anything else: 401 without a credential, 404 with one. */
  OTHER("other");

  private final String pattern;

  Route(String pattern) {
    this.pattern = pattern;
  }

  String pattern() {
    return pattern;
  }

  /** The route of a raw path ("%2F" still three characters); {@link #OTHER} for null. */
  static Route of(String path) {
    if (path == null) {
      return OTHER;
    }
    if ("/healthz".equals(path)) {
      return HEALTHZ;
    }
    if (FleetPage.owns(path)) {
      return FLEET_PAGE;
    }
    if ("/v1/health".equals(path)) {
      return HEALTH;
    }
    if ("/v1/vms".equals(path)) {
      return VMS;
    }
    String[] s = path.split("/", -1);
    if (s.length < 5 || !s[0].isEmpty() || !s[1].equals("v1")) {
      return OTHER;
    }
    boolean group = Names.isDnsLabel(s[3]) && Names.isDnsLabel(s[4]);
    if (s.length == 5 && s[2].equals("enroll") && group) {
      return ENROL;
    }
    if (s.length == 5 && s[2].equals("bundle") && group) {
      return BUNDLE;
    }
    if (s.length == 6 && s[2].equals("vms") && group && Names.isMachineId(s[5])) {
      return VM;
    }
    return OTHER;
  }
}
