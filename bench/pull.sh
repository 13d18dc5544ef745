#!/usr/bin/env bash
# Registry figures (issue 16), side by side in one run against Debian's docker-registry on
# 127.0.0.1, with a 5-layer image of ~100 MB of random (incompressible) bytes built here:
#   1. pull into an empty store, median of $RUNS:
#        wharf pull (download + verify + unpack)                 target ≤ skopeo's
#        skopeo copy docker://… dir: (download + verify only)
#        Debian's dockerd `docker pull` (download + unpack)      wharf target ≤ 1/2 of it
#   2. a pull of the image with all its layers present           target ≤ 50 ms
#   3. push of the image to an empty registry, wharf vs dockerd  target wharf ≤ dockerd
#   4. the wharf daemon's peak RSS during the pulls (VmHWM, reset before them)   target ≤ 40 MB
# dockerd runs with its own data root, exec root, pidfile and socket, --iptables=false
# --bridge=none, and is stopped at the end with everything else this script starts.
# Needs root, docker-registry, skopeo and docker.io (dockerd + the docker CLI).
# Usage: bench/pull.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-3}
DOCKER=${DOCKER:-/usr/local/bin/docker}
PORT=${PORT:-5731}      # the registry pulled from
PUSH_PORT=$((PORT + 1)) # an empty registry per push
unset DOCKER_HOST DOCKER_CONTEXT

work=$(mktemp -d /tmp/wharf-bench-pull.XXXXXX)
# Two wharf daemons: B builds and pushes the image (its build cache keeps the layers), P pulls
# into a store that never had them.
B="$WHARF_BIN --root $work/build-root --run-root $work/build-run"
W="$WHARF_BIN --root $work/root --run-root $work/run"
D="$DOCKER -H unix://$work/docker.sock"
REG=127.0.0.1:$PORT
IMAGE=$REG/bench/big:1
registry_pid=""
cleanup() {
  stop_registry
  [ -n "${push_pid:-}" ] && kill "$push_pid" 2>/dev/null && wait "$push_pid" 2>/dev/null
  $W daemon stop >/dev/null 2>&1 || true
  $B daemon stop >/dev/null 2>&1 || true
  if [ -f "$work/docker.pid" ]; then
    kill "$(cat "$work/docker.pid")" 2>/dev/null || true
    for _ in $(seq 100); do [ -e "$work/docker.pid" ] || break; sleep 0.1; done
  fi
  nft delete table inet wharf_bench_pull >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_pull >/dev/null 2>&1 || true
  nft delete table inet wharf_bench_pull_b >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_pull_b >/dev/null 2>&1 || true
  ip link del wbpd0 >/dev/null 2>&1 || true
  ip link del wbpd1 >/dev/null 2>&1 || true
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
stop_registry() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
    registry_pid=""
  fi
}
trap cleanup EXIT

# start_registry PORT DIR: a docker-registry storing under DIR; sets $last_pid
start_registry() {
  mkdir -p "$2"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\nlog:\n  level: error\n' \
    "$2/data" "$1" > "$2/config.yml"
  docker-registry serve "$2/config.yml" >"$2/log" 2>&1 &
  last_pid=$!
  for _ in $(seq 100); do
    curl --noproxy '*' -fs "http://127.0.0.1:$1/v2/" >/dev/null && return
    sleep 0.05
  done
  echo "the registry on port $1 did not start" >&2
  exit 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null; echo $(( $(now_ms) - t0 )); }
med() { printf '%s\n' "$@" | median; }

mkdir -p "$work/root" "$work/build-root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbpd0", "bip": "10.217.251.0/24", "nft-table": "wharf_bench_pull",
 "default-address-pools": [{"base": "10.217.64.0/18", "size": 24}],
 "bridge-prefix": "wbpb", "veth-prefix": "wbpv"}
JSON
cat > "$work/build-root/daemon.json" <<'JSON'
{"bridge": "wbpd1", "bip": "10.217.250.0/24", "nft-table": "wharf_bench_pull_b",
 "default-address-pools": [{"base": "10.217.128.0/18", "size": 24}],
 "bridge-prefix": "wbqb", "veth-prefix": "wbqv"}
JSON
# empty_store: the pulling store has no layer left (an rmi collected them)
empty_store() {
  local n; n=$(find "$work/root/layers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  [ "$n" = 0 ] || { echo "the pulling store still has $n layers" >&2; exit 1; }
}

start_registry "$PORT" "$work/registry"
registry_pid=$last_pid

# The image: 5 layers of 20 MiB of random bytes each (FROM scratch, one COPY per layer).
ctx=$work/ctx
mkdir -p "$ctx"
echo "FROM scratch" > "$ctx/Dockerfile"
for i in 0 1 2 3 4; do
  head -c $((20 * 1024 * 1024)) /dev/urandom > "$ctx/f$i"
  echo "COPY f$i /data/f$i" >> "$ctx/Dockerfile"
done
$B build -q -t "$IMAGE" "$ctx" >/dev/null
$B push "$IMAGE" >/dev/null
$B daemon stop >/dev/null
size=$(curl --noproxy '*' -fs -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' \
  "http://$REG/v2/bench/big/manifests/1" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(l["size"] for l in m["layers"]), len(m["layers"]))')
echo "image: $IMAGE, $(echo "$size" | awk '{printf "%d layers, %.1f MB compressed", $2, $1/1e6}')"

dockerd --iptables=false --bridge=none --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" --insecure-registry "$REG" \
  --insecure-registry "127.0.0.1:$PUSH_PORT" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 200); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
$D version >/dev/null

# Warm both daemons and the page cache of the registry's blobs (one pull each, not counted).
$W pull "$IMAGE" >/dev/null; $W rmi "$IMAGE" >/dev/null; empty_store
$D pull "$IMAGE" >/dev/null; $D rmi "$IMAGE" >/dev/null
skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "dir:$work/skopeo-warm" && rm -rf "$work/skopeo-warm"

# 1 and 4: pulls into an empty store; the daemon's peak RSS over them
wpid=$(cat "$work/run/wharf.pid")
echo 5 > "/proc/$wpid/clear_refs"
wp=(); sp=(); dp=(); present=()
for i in $(seq "$RUNS"); do
  empty_store
  wp+=("$(time_ms $W pull "$IMAGE")")
  # 2: the same pull again, every layer present
  present+=("$(time_ms $W pull "$IMAGE")")
  [ "$i" = "$RUNS" ] || $W rmi "$IMAGE" >/dev/null
  sp+=("$(time_ms skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "dir:$work/skopeo-$i")")
  rm -rf "$work/skopeo-$i"
  dp+=("$(time_ms $D pull "$IMAGE")")
  [ "$i" = "$RUNS" ] || $D rmi "$IMAGE" >/dev/null
done
hwm=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$wpid/status")
wpm=$(med "${wp[@]}"); spm=$(med "${sp[@]}"); dpm=$(med "${dp[@]}")
printf 'pull into an empty store, median of %d: wharf %d ms  skopeo (no unpack) %d ms  docker %d ms   wharf/skopeo %s  wharf/docker %s\n' \
  "$RUNS" "$wpm" "$spm" "$dpm" \
  "$(awk -v a="$wpm" -v b="$spm" 'BEGIN{printf "%.2f", a/b}')" \
  "$(awk -v a="$wpm" -v b="$dpm" 'BEGIN{printf "%.2f", a/b}')"
printf 'pull with every layer present, median of %d: wharf %d ms (target ≤ 50)\n' "$RUNS" "$(med "${present[@]}")"
printf 'wharf daemon peak RSS during the pulls (VmHWM): %s MB (target ≤ 40)\n' "$hwm"

# 3: push to an empty registry (a new one for each push)
PUSHED=127.0.0.1:$PUSH_PORT/bench/big:1
$W tag "$IMAGE" "$PUSHED"
$D tag "$IMAGE" "$PUSHED"
wu=(); du=()
for i in $(seq "$RUNS"); do
  for who in wharf docker; do
    start_registry "$PUSH_PORT" "$work/push-$who-$i"
    push_pid=$last_pid
    if [ "$who" = wharf ]; then
      wu+=("$(time_ms $W push "$PUSHED")")
    else
      du+=("$(time_ms $D push "$PUSHED")")
    fi
    kill "$push_pid"; wait "$push_pid" 2>/dev/null || true; push_pid=""
    rm -rf "$work/push-$who-$i"
  done
done
wum=$(med "${wu[@]}"); dum=$(med "${du[@]}")
printf 'push to an empty registry, median of %d: wharf %d ms  docker %d ms   wharf/docker %s\n' \
  "$RUNS" "$wum" "$dum" "$(awk -v a="$wum" -v b="$dum" 'BEGIN{printf "%.2f", a/b}')"
