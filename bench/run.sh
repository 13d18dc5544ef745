#!/usr/bin/env bash
# Engine figures, measured side by side in one run (issue "Engine core"):
#   1. `wharf run --rm --network none IMG true` (daemon up, default seccomp on) vs bare `runc run`
#      on a bundle of the same rootfs (`runc spec` defaults, no seccomp);
#   2. daemon idle RSS; 3. supervisor RSS per container;
#   4. `wharf ps -a` with 100 containers; 5. 50 containers started with `run -d` in parallel.
# Needs root, hyperfine, runc and busybox-static (apt-get install hyperfine runc busybox-static).
# Usage: bench/run.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
for tool in hyperfine runc; do command -v "$tool" >/dev/null || { echo "bench: needs $tool" >&2; exit 2; }; done

work=$(mktemp -d /tmp/wharf-bench.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
# Its own bridge, subnet, nftables table and interface prefixes: the bench never meets the host's
# engine (or a test's).
mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbench0", "bip": "10.219.250.0/24", "nft-table": "wharf_bench",
 "bridge-prefix": "wbnb", "veth-prefix": "wbnv",
 "default-address-pools": [{"base": "10.219.252.0/22", "size": 24}]}
JSON
cleanup() {
  $W rm -f $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  runc delete -f bench-runc >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The same busybox rootfs for both.
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/etc"
cp /bin/busybox "$work/bundle/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/bundle/rootfs/etc/group"
tar -C "$work/bundle/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" box >/dev/null
(cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open("config.json", "w"))
PY
)

echo "== 1. run --rm true: wharf (--network none, seccomp on) vs runc run (no seccomp)"
hyperfine -N --warmup 5 --runs 40 --export-json "$work/start.json" \
  -n "wharf run --rm --network none box true" "$W run --rm --network none box true" \
  -n "runc run (bundle, no seccomp)" "runc run --bundle $work/bundle bench-runc"
python3 - "$work/start.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"   median {r['median']*1000:7.1f} ms   {r['command']}")
PY

echo "== 1b. run --rm true on the default bridge vs --network none (target: bridge <= 1.3x none)"
hyperfine -N --warmup 5 --runs 40 --export-json "$work/bridge.json" \
  -n "wharf run --rm --network none" "$W run --rm --network none box true" \
  -n "wharf run --rm (default bridge)" "$W run --rm box true"
python3 - "$work/bridge.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
none, bridge = r["wharf run --rm --network none"], r["wharf run --rm (default bridge)"]
print(f"   median none {none*1000:.1f} ms, bridge {bridge*1000:.1f} ms: ratio {bridge/none:.2f}")
PY

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
echo "== 2. daemon idle RSS"
sleep 1
echo "   $(rss_kb "$(cat "$work/run/wharf.pid")") kB"

echo "== 3. supervisor memory (10 sleeping containers): RSS, and private (USS: what each one adds)"
for i in $(seq 1 10); do $W run -d box sleep 600 >/dev/null; done
total=0; priv=0; n=0
for s in "$work"/root/containers/*/state.json; do
  pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['supervisor_pid'])" "$s")
  total=$((total + $(rss_kb "$pid")))
  priv=$((priv + $(awk '/^Private_(Clean|Dirty)/ {s += $2} END {print s}' "/proc/$pid/smaps_rollup")))
  n=$((n + 1))
done
echo "   mean RSS $((total / n)) kB, mean private $((priv / n)) kB over $n supervisors"

echo "== 4. ps -a with 100 containers"
for i in $(seq 1 90); do $W create box true >/dev/null; done
hyperfine -N --warmup 3 --runs 30 "$W ps -a" | grep -E "Time|Range"

echo "== 5. 50 containers with run -d in parallel"
$W rm -f $($W ps -aq) >/dev/null
start=$(date +%s.%N)
for i in $(seq 1 50); do $W run -d box sleep 600 >/dev/null & done
wait
end=$(date +%s.%N)
running=$($W ps -q | wc -l)
echo "   $(python3 -c "print(f'{($end-$start)*1000:.0f}')") ms for 50 (running: $running)"
