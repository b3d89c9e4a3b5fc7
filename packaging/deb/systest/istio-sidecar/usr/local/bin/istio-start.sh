#!/bin/sh
# Stand-in for istio-sidecar's istio-start.sh + pilot-agent + Envoy, for istio-vm-agent's system test.
# Like the real one it needs, readable by istio-proxy: cluster.env, mesh config, root certificate and the token
# (pilot-agent reads them at start-up); without them it fails, as pilot-agent would, and systemd restarts it.
# Every start is logged to /var/log/istio/istio.log as "start pid=PID token=present|missing ...", so the test can
# tell whether the token was back before the sidecar started. Then it serves GET /healthz/ready on
# 127.0.0.1:15021 (Envoy's readiness port) as istio-proxy.
log=/var/log/istio/istio.log
err=/var/log/istio/istio.err.log
missing=
for f in /var/lib/istio/envoy/cluster.env /etc/istio/config/mesh /etc/certs/root-cert.pem \
    /var/run/secrets/tokens/istio-token; do
  setpriv --reuid=istio-proxy --regid=istio-proxy --init-groups test -r "$f" || missing="$missing $f"
done
if [ -r /var/run/secrets/tokens/istio-token ]; then token=present; else token=missing; fi
echo "start pid=$$ token=$token at=$(date +%s.%N)" >>"$log"
if [ -n "$missing" ]; then
  echo "error: not readable by istio-proxy:$missing" | tee -a "$err" >&2
  exit 1
fi
www=/run/istio-sidecar-standin
mkdir -p "$www/healthz"
echo ok >"$www/healthz/ready"
exec setpriv --reuid=istio-proxy --regid=istio-proxy --init-groups busybox httpd -f -p 127.0.0.1:15021 -h "$www"
