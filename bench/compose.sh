#!/usr/bin/env bash
# Compose figures (issue 5), with a busybox image on a private engine:
#   1. `up -d` + `down` of 1, 10 and 50 services      targets ≤ 150 ms, ≤ 400 ms, ≤ 1.5 s
#      (docker-compose 1.29 + dockerd: ≈ 1.6 s, 3.6 s, 12.4 s; podman-compose ≈ 1.7 s, 13.7 s)
#   2. a chain of 5 services gated on service_healthy (interval 1s): `up -d` time, and the
#      same chain gated on service_started, whose difference is the cost of the health gates
#                                                      target ≤ 0.5 s over the start time
#      (docker-compose: ≈ 6.6 s)
#   3. a no-op `up -d` on 10 running services          target ≤ 100 ms (docker-compose ≈ 470 ms)
#   4. the CLI's peak RSS during `up -d` of 50 services  target ≤ 30 MB
# Services run `sleep` under `init: true`, so that a stop is immediate (as with docker's
# --init); nothing here measures an application's own shutdown.
# Needs root and busybox-static; /usr/bin/time (Debian's `time`) for 4.
# Usage: bench/compose.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-5}

work=$(mktemp -d /tmp/wharf-bench-compose.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f -v $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  # the host networking this engine made (a stopped daemon leaves it for its containers)
  nft delete table inet wharf_bench_compose >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_compose >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wbc'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/*; do umount "$m" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# own host names (bridges, veths, nftables table, subnets): other engines may be running
mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbcd0", "bip": "10.213.251.0/24", "nft-table": "wharf_bench_compose",
 "default-address-pools": [{"base": "10.213.0.0/18", "size": 24}],
 "bridge-prefix": "wbcb", "veth-prefix": "wbcv"}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep test touch echo; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox >/dev/null

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# project DIR N: N independent services
project() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  {
    echo "services:"
    for i in $(seq 1 "$n"); do
      printf '  s%d:\n    image: busybox\n    command: ["sleep", "3600"]\n    init: true\n' "$i"
    done
  } > "$dir/compose.yaml"
}

# chain DIR CONDITION: 5 services, each depending on the previous one
chain() {
  local dir=$1 cond=$2
  mkdir -p "$dir"
  {
    echo "services:"
    for i in 1 2 3 4 5; do
      printf '  c%d:\n    image: busybox\n    command: ["sleep", "3600"]\n    init: true\n' "$i"
      printf '    healthcheck:\n      test: ["CMD", "true"]\n      interval: 1s\n      retries: 10\n'
      if [ "$i" -gt 1 ]; then
        printf '    depends_on:\n      c%d:\n        condition: %s\n' $((i - 1)) "$cond"
      fi
    done
  } > "$dir/compose.yaml"
}

c() {
  if ! (cd "$1" && shift && $W compose --progress quiet "$@" 2>"$work/err.txt"); then
    echo "bench: compose $* failed:" >&2; tail -5 "$work/err.txt" >&2; return 1
  fi
}

echo "== 1. up -d + down (median of $RUNS)"
for n in 1 10 50; do
  d="$work/p$n"; project "$d" "$n"
  c "$d" up -d >/dev/null; c "$d" down >/dev/null   # warm-up
  times=()
  for _ in $(seq 1 "$RUNS"); do
    t0=$(now_ms); c "$d" up -d >/dev/null; c "$d" down >/dev/null; t1=$(now_ms)
    times+=($((t1 - t0)))
  done
  printf '   %2d services: %5d ms   (runs: %s)\n' "$n" "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
done

echo "== 2. five-service chain (median of $RUNS)"
for cond in service_started service_healthy; do
  d="$work/chain-$cond"; chain "$d" "$cond"
  times=()
  for _ in $(seq 1 "$RUNS"); do
    t0=$(now_ms); c "$d" up -d >/dev/null; t1=$(now_ms)
    times+=($((t1 - t0)))
    c "$d" down >/dev/null
  done
  m=$(printf '%s\n' "${times[@]}" | median)
  printf '   %-16s up -d: %5d ms   (runs: %s)\n' "$cond" "$m" "${times[*]}"
  eval "chain_$cond=$m"
done
# shellcheck disable=SC2154
echo "   health gates cost: $((chain_service_healthy - chain_service_started)) ms over the started chain"

echo "== 3. no-op up -d on 10 running services (median of $((RUNS * 2)))"
d="$work/p10"
c "$d" up -d >/dev/null
times=()
for _ in $(seq 1 $((RUNS * 2))); do
  t0=$(now_ms); c "$d" up -d >/dev/null; t1=$(now_ms)
  times+=($((t1 - t0)))
done
printf '   %5d ms   (runs: %s)\n' "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
c "$d" down >/dev/null

echo "== 4. CLI peak RSS during up -d of 50 services"
if [ -x /usr/bin/time ]; then
  d="$work/p50"
  (cd "$d" && /usr/bin/time -v $W compose --progress plain up -d) 2> "$work/time.txt" >/dev/null
  kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
  echo "   $kb kB"
  c "$d" down >/dev/null
else
  echo "   (skipped: /usr/bin/time not installed; apt-get install time)"
fi
