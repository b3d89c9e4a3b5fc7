# Shared by the bench scripts (sourced, bash). Everything a script starts is recorded and stopped by its own pid
# on exit; every temporary file lives under $work, removed on exit.
#
# Environment (set by bench/run; a figure script run alone sets them itself through bench_init):
#   BENCH_PKG      the unpacked .deb (dpkg-deb -x), with the CDS archive made in it (generate-cds-archive)
#   BENCH_RESULTS  directory where each figure writes NAME.tsv: "key<TAB>value" lines that bench/run tabulates
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
py=/usr/bin/python3 # Debian's, not whatever python3 comes first on PATH (a pyenv shim starts slower)
pids=()
work=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ -n ${work:-} && -d $work && -z ${BENCH_KEEP:-} ]]; then rm -rf --one-file-system "$work"; fi
}

# bench_init NAME [--no-package]: a work directory, the cleanup trap, the unpacked package and the service's launcher
# (not with --no-package: P7 runs no agent from the package, builds what it needs itself and starts the service its
# own way) and the results directory.
bench_init() {
  [[ $(id -u) -eq 0 ]] || die "run as root (temporary roots owned by istio-proxy's uid, systemd-nspawn)"
  work=$(mktemp -d "/var/tmp/istio-vm-agent-bench-$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  if [[ -z ${BENCH_PKG:-} && ${2:-} != --no-package ]]; then
    local deb
    deb=$(ls "$repo"/agent/target/istio-vm-agent_*_amd64.deb 2>/dev/null | head -1)
    [[ -n $deb ]] || die "no agent/target/istio-vm-agent_*_amd64.deb: run bench/run (it builds), or mvn -DskipTests package"
    BENCH_PKG=$work/pkg
    unpack_package "$deb" "$BENCH_PKG"
  fi
  BENCH_RESULTS=${BENCH_RESULTS:-$work/results}
  mkdir -p "$BENCH_RESULTS"
  launcher=${BENCH_PKG:-}/usr/bin/istio-vm-agent
  jsa=${BENCH_PKG:-}/var/cache/istio-vm-agent/istio-vm-agent.jsa
  [[ ${2:-} != --no-package ]] || return 0
  # The onboarding service is not in the package: its jar from this clone's build, on the build's java, through a
  # launcher that execs the JVM (so $! is its pid); ISTIO_VM_ONBOARDING_JAVA_OPTS adds JVM options.
  local jar=$repo/onboarding/target/istio-vm-onboarding.jar
  [[ -f $jar ]] || die "no $jar: run bench/run (it builds), or mvn -DskipTests package"
  onboarding=$work/istio-vm-onboarding
  printf '#!/bin/sh\nexec java -XX:+UseSerialGC ${ISTIO_VM_ONBOARDING_JAVA_OPTS:-} -jar %s "$@"\n' "$jar" >"$onboarding"
  chmod 0755 "$onboarding"
}

# sample_bundle ARGS...: the test fixtures' sample bundle generator (not in the package either).
sample_bundle() { java -jar "$repo/test-fixtures/target/istio-vm-test-fixtures.jar" "$@"; }

# unpack_package DEB DIR: dpkg-deb -x, then what postinst does for the CDS archive (made for this very DIR: a Java
# 17 archive is valid only at the absolute path of the jars it was dumped with).
unpack_package() {
  dpkg-deb -x "$1" "$2"
  "$2/usr/lib/istio-vm-agent/generate-cds-archive" || die "generate-cds-archive failed in $2"
}

# result FIGURE KEY VALUE: one line of a figure's results.
result() { printf '%s\t%s\n' "$2" "$3" >>"$BENCH_RESULTS/$1.tsv"; }

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for SECONDS WHAT COMMAND...
wait_for() {
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS <= until)) || die "timed out after ${until}s waiting for $what"
    sleep 0.2
  done
}

# make_ca DIR: a private CA (EC P-256) and a leaf for localhost/127.0.0.1 it signed: DIR/ca.pem (bundle.caFile),
# DIR/cert.pem (leaf + CA, for serve --cert), DIR/key.pem.
make_ca() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
    -days 7 -subj /CN=istio-vm-agent-bench-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/key.pem" -out "$d/leaf.csr" \
    -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    >"$d/leaf.ext"
  openssl x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/leaf.pem" \
    -days 7 -extfile "$d/leaf.ext" 2>/dev/null
  cat "$d/leaf.pem" "$d/ca.pem" >"$d/cert.pem"
}

# start_endpoint DIR [PORT]: the onboarding service (`istio-vm-onboarding serve`, this clone's build) with a
# sample bundle for vm-namespace/hello-vm (token lifetime 1h, istioctl's default), a join token, a CA-signed
# certificate, --debug (one log line per request) and --reports DIR/reports.jsonl. Sets ep_url, ep_pid, ep_dir.
start_endpoint() {
  ep_dir=$1
  local port=${2:-$(free_port)}
  make_ca "$ep_dir"
  sample_bundle --out "$ep_dir/bundles/vm-namespace/hello-vm" --token-lifetime 1h >/dev/null
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ep_dir/join-token"
  chmod 600 "$ep_dir/join-token"
  printf 'tokens:\n  - token: %s\n    namespace: vm-namespace\n    group: hello-vm\n' "$(cat "$ep_dir/join-token")" \
    >"$ep_dir/tokens.yaml"
  chmod 600 "$ep_dir/tokens.yaml"
  # The launcher execs the JVM: $! is the endpoint's JVM.
  "$onboarding" serve --bundles "$ep_dir/bundles" --tokens "$ep_dir/tokens.yaml" --listen "127.0.0.1:$port" \
    --cert "$ep_dir/cert.pem" --key "$ep_dir/key.pem" --reports "$ep_dir/reports.jsonl" --debug \
    >"$ep_dir/serve.log" 2>&1 &
  ep_pid=$!
  pids+=("$ep_pid")
  ep_url=https://localhost:$port
  wait_for 90 "the endpoint on port $port" curl -sf --cacert "$ep_dir/ca.pem" \
    -H "Authorization: Bearer $(cat "$ep_dir/join-token")" -o /dev/null "$ep_url/v1/bundle/vm-namespace/hello-vm"
  # That probe is a request too: counts start after it.
}

# make_root DIR [CONFIG_LINES...]: a temporary VM root as the agent sees one under --root: passwd with istio-proxy
# (uid 999, as istio-sidecar's postinst makes it), hosts, machine-id, and config.yaml pointing at the endpoint
# ($ep_url, $ep_dir) with sidecar.manage false. Extra lines are appended to config.yaml verbatim; $bundle_extra, if
# set, is inserted into the bundle: section (e.g. "  refreshInterval: 10s").
make_root() {
  local r=$1
  shift
  mkdir -p "$r/etc/istio-vm-agent"
  printf 'root:x:0:0:root:/root:/bin/bash\nistio-proxy:x:999:999::/var/lib/istio:/usr/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nistio-proxy:x:999:\n' >"$r/etc/group"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tbench-vm\n\n::1     localhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
  echo bench-vm >"$r/etc/hostname"
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$r/etc/machine-id"
  {
    printf 'bundle:\n  source: %s/v1/bundle/vm-namespace/hello-vm\n  caFile: %s/ca.pem\n  tokenFile: %s/join-token\n' \
      "$ep_url" "$ep_dir" "$ep_dir"
    [[ -z ${bundle_extra:-} ]] || printf '%s\n' "$bundle_extra"
    printf 'sidecar:\n  manage: false\n'
    local l
    for l in "$@"; do printf '%s\n' "$l"; done
  } >"$r/etc/istio-vm-agent/config.yaml"
}

# median FILE [COLUMN]: the median of a column (1-based) of numbers.
median() { sort -g -k"${2:-1},${2:-1}" "$1" | awk -v c="${2:-1}" '{v[NR]=$c} END {if (NR==0) {print "nan"; exit}
  print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# percentile FILE P [COLUMN]: nearest-rank percentile (P in 0..100).
percentile() { sort -g -k"${3:-1},${3:-1}" "$1" | awk -v p="$2" -v c="${3:-1}" '{v[NR]=$c} END {if (NR==0) {print "nan"; exit}
  r=int((p/100)*NR + 0.999999); if (r<1) r=1; if (r>NR) r=NR; print v[r]}'; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# proc_sample PID [PREFIX...]: one line "rss_kb pss_kb private_kb private_dirty_kb utime+stime cutime+cstime" of a
# process (kB from /proc/PID/smaps_rollup; CPU in clock ticks from /proc/PID/stat, all threads; cutime+cstime is
# what its reaped children used, e.g. the systemctl it runs), read through PREFIX (nsenter into a container) or not.
proc_sample() {
  local pid=$1
  shift
  "$@" cat "/proc/$pid/stat" "/proc/$pid/smaps_rollup" | awk '
    NR==1 { sub(/^.*\) /, ""); split($0, f, " "); cpu=f[12]+f[13]; child=f[14]+f[15]; next }
    /^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
    END { print rss, pss, pc+pd, pd, cpu, child }'
}

# start_agent NAME ROOT [JAVA_OPTS]: the daemon from the package's launcher (`--root ROOT run`) with a notify
# socket of its own (py/notify_sink.py, messages in $work/NAME.notify); waits for READY=1. Sets agent_pid (the JVM:
# the launcher execs it) and agent_ready_at (unix time of READY=1). Its log: $work/NAME.log.
start_agent() {
  local name=$1 root=$2 opts=${3:-}
  "$py" "$bench_dir/py/notify_sink.py" "$work/$name.sock" "$work/$name.notify" &
  pids+=($!)
  wait_for 10 "the notify socket of $name" test -S "$work/$name.sock"
  NOTIFY_SOCKET=$work/$name.sock ISTIO_VM_AGENT_JAVA_OPTS=$opts "$launcher" --root "$root" run >"$work/$name.log" 2>&1 &
  agent_pid=$!
  pids+=("$agent_pid")
  wait_for 180 "READY=1 from $name" grep -q 'READY=1' "$work/$name.notify"
  agent_ready_at=$(grep -m1 'READY=1' "$work/$name.notify" | cut -d' ' -f1)
}

# Python for ISO 8601 times (the endpoint's receivedAt, status.json): unix(x) -> seconds since the epoch. Java
# writes nanoseconds and Z, which Python 3.11's fromisoformat does not read.
iso_py='
import datetime as d
def unix(x):
    x = x.strip().replace("Z", "")
    if "." in x:
        a, b = x.split(".", 1)
        x = a + "." + b[:6]
    return d.datetime.fromisoformat(x).replace(tzinfo=d.timezone.utc).timestamp()
'
