#!/usr/bin/env bash
# Teardown under load (issue 18): `rm -f` of 100 running containers on one bridge, on a quiet
# engine and again right after 100 parallel `exec`s that keep both cores busy (each spins for
# a while inside its container), with two more busy containers spinning through the removal.
# Target: ≤ 1 s in both cases. Needs root and busybox-static.
# Usage: bench/teardown.sh [path/to/wharf]   env: N (default 100), ROUNDS (default 3),
#   TRACE=FILE (the daemon writes the phase trace there; the busy removal's is kept as
#   FILE.busyROUND), RM_PREFIX (a command the busy `rm` runs under, e.g. `nice -n -10`)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
[ -x "$WHARF_BIN" ] || { echo "bench: no $WHARF_BIN (cargo build --release)" >&2; exit 2; }
N=${N:-100}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/wharf-teardown.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
# TRACE=FILE: the daemon writes the phase trace there (bench/trace.sh reads such files)
[ -n "${TRACE:-}" ] && export WHARF_TRACE="$TRACE"
cleanup() {
  $W ps -aq 2>/dev/null | xargs -r $W rm -f >/dev/null 2>&1 || true
  $W network rm tdnet >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  nft delete table ip wharf_teardown >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wtd'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wtdd0", "bip": "10.216.250.0/24", "nft-table": "wharf_teardown",
 "bridge-prefix": "wtdb", "veth-prefix": "wtdv",
 "default-address-pools": [{"base": "10.216.0.0/18", "size": 24}]}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" box >/dev/null
$W network create --subnet 10.216.64.0/20 tdnet >/dev/null
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
start_all() {
  seq 1 "$N" | xargs -P 16 -I{} $W run -d --network tdnet --name "td{}" box sleep 600 >/dev/null
}
spin='i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'
for round in $(seq 1 "$ROUNDS"); do
  start_all
  t0=$(now_ms); $W rm -f $($W ps -aq) >/dev/null; t1=$(now_ms)
  quiet=$((t1 - t0))
  start_all
  # two containers that spin through the removal, not removed by it
  for h in 1 2; do $W run -d --network none --name "hog$h" box sh -c "while :; do :; done" >/dev/null; done
  # 100 execs that spin, started in parallel just before
  for i in $(seq 1 "$N"); do $W exec "td$i" sh -c "$spin" >/dev/null 2>&1 & done
  sleep 0.3
  ids=$($W ps -aq --filter name=td)
  [ -n "${TRACE:-}" ] && : > "$TRACE"
  t0=$(now_ms); ${RM_PREFIX:-} $W rm -f $ids >/dev/null; t1=$(now_ms)
  [ -n "${TRACE:-}" ] && cp "$TRACE" "$TRACE.busy$round"
  busy=$((t1 - t0))
  wait
  $W rm -f hog1 hog2 >/dev/null
  echo "   round $round: rm -f of $N bridged: quiet $quiet ms, busy $busy ms (load $(cut -d' ' -f1 /proc/loadavg))"
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
