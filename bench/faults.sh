#!/usr/bin/env bash
# Reliability figures (issue 13), on a private engine with a busybox image:
#   1. supervisor death → container reaped and exit 137 recorded   target ≤ 100 ms
#      (kill -9 of a `wharf __supervise`; the time is that of the daemon's `die` event, which
#      it publishes after the cgroup is empty and the state is stored)
#   2. a hostile compose file (nine levels of ten-way aliases, < 1 KB) refused by
#      `compose config`: wall time and peak RSS                     target ≤ 50 ms, ≤ 50 MB
#   3. one tar entry of depth 2,000 (unpacked) and 4,000 (past PATH_MAX, refused) through
#      `import` and `load`                                          target ≤ 100 ms
#   4. 100 parallel `run -d` on one bridge, then 100 parallel `exec`s and `rm -f`s: wall
#      time of each wave, and nothing left (no error, no container, no link)
# Needs root, busybox-static, /usr/bin/time (Debian's `time`).
# Usage: bench/faults.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-20}

work=$(mktemp -d /tmp/wharf-bench-faults.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  [ -n "${events_pid:-}" ] && kill "$events_pid" 2>/dev/null || true
  nft delete table inet wharf_bench_faults >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_faults >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wbf'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/*; do umount "$m" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbfd0", "bip": "10.212.251.0/24", "nft-table": "wharf_bench_faults",
 "default-address-pools": [{"base": "10.212.0.0/18", "size": 24}],
 "bridge-prefix": "wbfb", "veth-prefix": "wbfv"}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" box >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# 1. supervisor death
lat=()
for i in $(seq "$RUNS"); do
  id=$($W run -d --network none box sleep 1000)
  sup=$(sed -n 's/.*"supervisor_pid":\([0-9]*\).*/\1/p' "$work/root/containers/$id/state.json")
  pid=$($W inspect -f '{{.State.Pid}}' "$id")
  fifo="$work/events.$i"
  mkfifo "$fifo"
  $W events --filter "container=$id" --filter event=die --format '{{json .}}' > "$fifo" &
  events_pid=$!
  exec 3< "$fifo"
  sleep 0.2 # the events stream is connected
  t0=$(date +%s%N)
  kill -9 "$sup"
  read -r line <&3
  exec 3<&-
  kill "$events_pid" 2>/dev/null || true
  wait "$events_pid" 2>/dev/null || true
  events_pid=
  t1=$(echo "$line" | sed -n 's/.*"timeNano":\([0-9]*\).*/\1/p')
  code=$($W inspect -f '{{.State.ExitCode}}' "$id")
  [ "$code" = 137 ] || { echo "exit code $code, not 137" >&2; exit 1; }
  if [ -e "/proc/$pid" ] && ! grep -q '^[^)]*) [ZX]' "/proc/$pid/stat" 2>/dev/null; then
    echo "container process $pid survived its supervisor" >&2; exit 1
  fi
  lat+=( "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')" )
  $W rm -f "$id" >/dev/null
done
printf '%s\n' "${lat[@]}" > "$work/lat"
echo "supervisor death → reaped, exit 137 recorded: median $(median < "$work/lat") ms, max $(sort -n "$work/lat" | tail -1) ms ($RUNS runs)"

# 2. alias bomb
{
  printf 'services:\n  web:\n    image: box\nx-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n'
  for i in 1 2 3 4 5 6 7 8 9; do
    p=$((i - 1))
    printf 'x-a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n' \
      "$i" "$i" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p" "$p"
  done
} > "$work/bomb.yaml"
size=$(stat -c %s "$work/bomb.yaml")
for i in 1 2 3; do
  /usr/bin/time -f '%e %M' -o "$work/time.$i" $W compose -f "$work/bomb.yaml" config >/dev/null 2>"$work/err" && {
    echo "the alias bomb was accepted" >&2; exit 1; }
done
grep -q 'excessive aliasing' "$work/err" || { cat "$work/err" >&2; exit 1; }
read -r secs kb < <(tail -1 "$work/time.3")
echo "alias bomb ($size bytes) refused: $(awk -v s="$secs" 'BEGIN {print s * 1000}') ms, $((kb / 1024)) MB peak RSS: $(cat "$work/err")"

# 3. deep archive paths
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (b - a) / 1e6}'; }
for depth in 2000 4000; do
  python3 - "$work/deep-$depth.tar" "$depth" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    info = tarfile.TarInfo("a/" * int(sys.argv[2]) + "f")
    info.size = 2
    t.addfile(info, io.BytesIO(b"hi"))
PY
  t0=$(date +%s%N)
  if $W import "$work/deep-$depth.tar" "deep:$depth" >/dev/null 2>"$work/err"; then what=unpacked; else what="refused ($(head -c 60 "$work/err")…)"; fi
  t1=$(date +%s%N)
  echo "import, one entry of depth $depth: $what in $(ms "$t0" "$t1") ms"
done
# the same depth in load's outer archive
python3 - "$work/deep-load.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    info = tarfile.TarInfo("a/" * 2000 + "manifest.json")
    info.size = 2
    t.addfile(info, io.BytesIO(b"[]"))
PY
t0=$(date +%s%N)
$W load -i "$work/deep-load.tar" >/dev/null 2>&1 || true
t1=$(date +%s%N)
echo "load, outer entry of depth 2000: refused (no manifest at the top) in $(ms "$t0" "$t1") ms"

# 4. 100 parallel runs, execs, removals
$W network create wbfpar >/dev/null
wave() { # wave NAME COMMAND...: run COMMAND with {} = 0..99 at once; print the wall time
  local name=$1; shift
  local t0 t1 fails=0 pids=()
  t0=$(date +%s%N)
  for i in $(seq 0 99); do
    "${@//\{\}/$i}" >/dev/null 2>>"$work/wave-err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  t1=$(date +%s%N)
  [ "$fails" = 0 ] || { echo "$name: $fails of 100 failed: $(head -3 "$work/wave-err")" >&2; exit 1; }
  echo "100 parallel $name: $(ms "$t0" "$t1") ms"
}
wave "run -d" $W run -d --network wbfpar --name 'par{}' box sleep 600
wave exec $W exec 'par{}' sh -c true
wave "rm -f" $W rm -f 'par{}'
$W network rm wbfpar >/dev/null
left=$($W ps -aq | wc -l)
links=$(ip -o link show | grep -c 'wbf[bv]' || true)
echo "after them: $left containers, $links links left"
