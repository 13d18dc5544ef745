#!/usr/bin/env bash
# Conversion figures (issue 17): `wharf compose convert --format kubernetes` of a 60-service
# file, whole command (process start, load, convert, print)       target ≤ 30 ms
# `compose convert --format swarm` of the same file (what `stack deploy` sends) target ≤ 20 ms
# and `wharf config` of the same file, which is the loading alone, for comparison.
# Every service has ports, environment, a named volume or a tmpfs, a healthcheck and a
# depends_on on the one before it, so each object family is exercised.
# Usage: bench/convert.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-20}
SERVICES=${SERVICES:-60}

work=$(mktemp -d /tmp/wharf-bench-convert.XXXXXX)
trap 'rm -rf "$work"' EXIT
{
  echo "name: bench"
  echo "services:"
  for i in $(seq 1 "$SERVICES"); do
    echo "  s$i:"
    echo "    image: registry.local/app/s$i:1"
    echo "    ports: [\"$((8000 + i)):80\"]"
    echo "    environment: {ROLE: s$i, LEVEL: \"$i\"}"
    if [ $((i % 2)) -eq 0 ]; then echo "    volumes: [\"v$i:/data\"]"; else echo "    tmpfs: [/tmp]"; fi
    echo "    healthcheck: {test: [\"CMD\", \"true\"], interval: 5s}"
    echo "    deploy: {resources: {limits: {cpus: \"0.5\", memory: 128M}}}"
    if [ "$i" -gt 1 ]; then echo "    depends_on: {s$((i - 1)): {condition: service_healthy}}"; fi
  done
  echo "volumes:"
  for i in $(seq 2 2 "$SERVICES"); do echo "  v$i:"; done
} >"$work/compose.yaml"

# median wall time in ms of "$@", RUNS times
median_ms() {
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.1f", m/1000}'
}

objects=$("$WHARF_BIN" compose -f "$work/compose.yaml" convert --format kubernetes 2>/dev/null | grep -c '^kind:')
echo "$SERVICES services → $objects Kubernetes objects"
echo "compose convert --format kubernetes: $(median_ms "$WHARF_BIN" compose -f "$work/compose.yaml" convert --format kubernetes) ms (median of $RUNS; target ≤ 30 ms)"
echo "compose convert --format swarm:      $(median_ms "$WHARF_BIN" compose -f "$work/compose.yaml" convert --format swarm) ms (target ≤ 20 ms)"
echo "config (loading alone):              $(median_ms "$WHARF_BIN" compose -f "$work/compose.yaml" config) ms"
