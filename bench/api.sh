#!/usr/bin/env bash
# API figures of issue 12 against a private `wharf daemon`: `GET /containers/json?all=1` with
# 100 containers (curl's total time over the socket, an upper bound of the daemon's time), and
# `stats --no-stream` of 50 running containers: wall time of `wharf stats` (its 50
# `stats?stream=0` requests included), and of the docker CLI (whose own 500 ms display ticker
# is in its figure, against any engine).
#
# Usage: bench/api.sh [path/to/wharf]   (default ${CARGO_TARGET_DIR:-target}/debug/wharf)
# Output: one line per figure, the median of RUNS (default 20 / 5) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/wharf}")
DOCKER=${DOCKER:-/usr/local/bin/docker}
work=$(mktemp -d /var/tmp/wharf-bench-api.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
sock="$work/run/wharf.sock"
daemon_pid=
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  nft delete table inet wharf_bench_api >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_api >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wba'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/*; do umount "$m" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Own host names and subnets (10.252.0.0/16: no test slot uses it).
mkdir -p "$work/root" "$work/run"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbad0", "bip": "10.252.255.0/24", "nft-table": "wharf_bench_api",
 "default-address-pools": [{"base": "10.252.0.0/17", "size": 24}],
 "bridge-prefix": "wbab", "veth-prefix": "wbav"}
JSON
$W daemon >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  curl -fsS --unix-socket "$sock" http://x/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" box >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in $(seq 100); do $W create --name "c$i" --network none box sleep 3600 >/dev/null; done
runs=${RUNS:-20}
ms=$(for _ in $(seq "$runs"); do
  curl -s -o /dev/null -w '%{time_total}\n' --unix-socket "$sock" 'http://x/containers/json?all=1'
done | median)
echo "GET /containers/json?all=1, 100 containers: $(awk -v s="$ms" 'BEGIN {printf "%.1f", s * 1000}') ms (median of $runs)"

for i in $(seq 50); do $W start "c$i" >/dev/null; done
stats_runs=${STATS_RUNS:-5}
ms=$(for _ in $(seq "$stats_runs"); do
  start=$(date +%s%N)
  $W stats --no-stream >/dev/null
  echo $(( ($(date +%s%N) - start) / 1000000 ))
done | median)
echo "wharf stats --no-stream, 50 running containers: $ms ms (median of $stats_runs)"
ms=$(for _ in $(seq "$stats_runs"); do
  start=$(date +%s%N)
  DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$work/docker-config" "$DOCKER" stats --no-stream >/dev/null
  echo $(( ($(date +%s%N) - start) / 1000000 ))
done | median)
echo "docker stats --no-stream, 50 running containers: $ms ms (median of $stats_runs)"
