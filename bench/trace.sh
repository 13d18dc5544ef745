#!/usr/bin/env bash
# Where the time of one `wharf run --rm IMG true` goes: the phase trace (WHARF_TRACE) of the CLI,
# the daemon, the supervisor and the container's init, as a table of median start and length
# over RUNS runs (after WARMUP), plus the whole command as the bench saw it (`command`: from
# spawning the CLI to its exit, so `cli` starting later is the binary's own start-up).
# Needs root and busybox-static.
# Usage: bench/trace.sh [path/to/wharf]   env: RUNS (default 20), WARMUP (5), NET (none|bridge)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-5}
NET=${NET:-none}
[ -x "$WHARF_BIN" ] || { echo "bench: no $WHARF_BIN (cargo build --release)" >&2; exit 2; }

work=$(mktemp -d /tmp/wharf-trace.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
mkdir -p "$work/root" "$work/traces"
# Its own bridge, subnet, nftables table and interface prefixes (as bench/run.sh).
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wtrace0", "bip": "10.219.246.0/24", "nft-table": "wharf_trace",
 "bridge-prefix": "wtrb", "veth-prefix": "wtrv",
 "default-address-pools": [{"base": "10.219.240.0/22", "size": 24}]}
JSON
cleanup() {
  $W rm -f $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

# The daemon writes the trace of whatever file WHARF_TRACE names: one file, cut per run.
export WHARF_TRACE="$work/daemon.trace"
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" box >/dev/null
netflag=(--network none)
[ "$NET" = bridge ] && netflag=()
for i in $(seq 1 "$WARMUP"); do $W run --rm "${netflag[@]}" box true; done
for i in $(seq 1 "$RUNS"); do
  : > "$WHARF_TRACE"
  python3 - "$WHARF_TRACE" $W run --rm "${netflag[@]}" box true <<'PY'
import os, subprocess, sys, time
trace, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic_ns()
rc = subprocess.call(cmd)
t1 = time.monotonic_ns()
with open(trace, "a") as f:
    f.write(f"bench\t{os.getpid()}\tcommand\t{t0}\t{t1}\t0\texit={rc}\n")
sys.exit(rc)
PY
  # The daemon's last lines (the removal's end) may follow the CLI's exit by a moment.
  sleep 0.05
  cp "$WHARF_TRACE" "$work/traces/$i"
done
echo "== run --rm ${netflag[*]:---network bridge} box true: $RUNS runs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$WHARF_BIN" __trace "$work"/traces/*
