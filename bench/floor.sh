#!/bin/sh
# The floor for P1: what Istio's VM guide has an operator do by hand, as one script and with nothing else: fetch the
# bundle from the onboarding endpoint (curl, the same HTTPS URL, CA and join token as the agent), untar it, install
# each file where istio-sidecar expects it with its owner and mode, and append the hosts entries. No verification,
# no last-known-good, no status, no sd_notify: the least work that lays the files out.
#
# Usage: floor.sh ROOT URL CAFILE TOKENFILE    (istio-proxy is uid/gid 999 in the bench's temporary roots)
set -eu
root=$1 url=$2 ca=$3 token=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Authorization: Bearer %s\n' "$(cat "$token")" >"$tmp/auth"
curl -fsS --cacert "$ca" -H "@$tmp/auth" -o "$tmp/bundle.tar.gz" "$url"
tar -xzf "$tmp/bundle.tar.gz" -C "$tmp"
install -d -m 0755 -o 999 -g 999 "$root/etc/certs" "$root/var/lib/istio/envoy" "$root/var/lib/istio/config" \
  "$root/var/run/secrets" "$root/var/run/secrets/tokens"
install -m 0644 -o 999 -g 999 "$tmp/root-cert.pem" "$root/etc/certs/root-cert.pem"
install -m 0640 -o 999 -g 999 "$tmp/istio-token" "$root/var/run/secrets/tokens/istio-token"
install -m 0644 -o 999 -g 999 "$tmp/cluster.env" "$root/var/lib/istio/envoy/cluster.env"
install -m 0644 -o 999 -g 999 "$tmp/mesh.yaml" "$root/var/lib/istio/config/mesh"
cat "$tmp/hosts" >>"$root/etc/hosts"
