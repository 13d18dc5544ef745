#!/usr/bin/env bash
# WordPress example figures (issue 11), wharf and Debian's dockerd 20.10 + docker-compose 1.29 side
# by side in one run, on the same stand-in images (examples/wordpress/offline, `wharf save` →
# `docker load`) and the same compose file:
#   1. `up -d --wait` until the installer answers (GET / → 302 to wp-admin/install.php):
#      first start (MariaDB initialises its data directory) and second start (volumes kept)
#   2. `down` (volumes kept)
#   3. peak RSS of the daemon (VmHWM) and the sum of the supervisors' RSS with the stack up
#   4. the servers' own start-up, run bare (chroot into the same images' root filesystems, in a
#      network namespace of their own): MariaDB to healthy, then Apache to the installer; wharf's
#      overhead is its second start minus this               target ≤ 100 ms
#      (BARE=1)
# Target for 1: wharf's second start ≤ 1/3 of docker-compose's.
#
# The compose file is the example's with one change for both engines: the healthcheck probes
# every $PROBE (default 100ms) instead of the example's 1 s start interval, which docker 20.10
# does not know (it would probe every 10 s; and without start_interval, Docker 25+ and wharf
# probe every 5 s during the start period). Without it, the health gate's granularity, not the
# engine, would be what is measured; RAW=1 also times wharf on the example file as it is.
# dockerd and the bare servers run in network namespaces of their own, entered with nsenter
# (`ip netns exec` would remount /sys: it costs time on every probe and hides the cgroup mounts
# from dockerd); dockerd's bridge, iptables rules and docker-proxy stay there, it has its own
# data root, exec root and socket, and is stopped at the end.
# Needs root, curl, docker.io, docker-compose, and the stand-in images: a `wharf save` archive of
# mariadb:10.11 + wordpress:latest in $IMAGES (default: the test suite's cache under /var/tmp), or
# they are built with examples/wordpress/offline/build.sh.
# Usage: bench/wordpress.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-3}
PROBE=${PROBE:-100ms}
DOCKER=${DOCKER:-/usr/local/bin/docker}
PORT=18931

work=$(mktemp -d /tmp/wharf-bench-wp.XXXXXX)
export WHARF_ROOT=$work/root WHARF_RUN=$work/run
W="$WHARF_BIN"
DNS=wharfbench-docker
BNS=wharfbench-bare
D="$DOCKER -H unix://$work/docker.sock"
DC="docker-compose -H unix://$work/docker.sock"
cleanup() {
  set +e
  (cd "$work/proj" 2>/dev/null && $W compose -p wpbench down -v >/dev/null 2>&1)
  # shellcheck disable=SC2046
  $W rm -f -v $($W ps -aq 2>/dev/null) >/dev/null 2>&1
  $W daemon stop >/dev/null 2>&1
  (cd "$work/dproj" 2>/dev/null && $DC -p wpbench down -v >/dev/null 2>&1)
  if [ -f "$work/docker.pid" ]; then
    kill "$(cat "$work/docker.pid")" 2>/dev/null
    for _ in $(seq 100); do [ -e "$work/docker.pid" ] || break; sleep 0.1; done
  fi
  pkill -9 -f "$work/bare" 2>/dev/null  # unshare ignores SIGTERM
  nft delete table inet wharf_bench_wp >/dev/null 2>&1
  nft delete table ip wharf_bench_wp >/dev/null 2>&1
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wbw'); do
    ip link del "$l" >/dev/null 2>&1
  done
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  ip netns del $DNS 2>/dev/null
  ip netns del $BNS 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
# wait_installer [netns [port]]: until GET / redirects to the installer (bounded: 120 s)
wait_installer() {
  local ns=${1:-} port=${2:-$PORT} run=()
  [ -n "$ns" ] && run=(nsenter --net="/run/netns/$ns")
  local base="http://127.0.0.1:$port"
  [ "$port" = 80 ] && base="http://127.0.0.1"
  for _ in $(seq 12000); do
    [ "$("${run[@]}" curl -s -o /dev/null -w '%{redirect_url}' "$base/" 2>/dev/null)" = \
      "$base/wp-admin/install.php" ] && return 0
    sleep 0.01
  done
  echo "the installer never answered" >&2
  return 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbwd0", "bip": "10.213.252.0/24", "nft-table": "wharf_bench_wp",
 "default-address-pools": [{"base": "10.213.128.0/18", "size": 24}],
 "bridge-prefix": "wbwb", "veth-prefix": "wbwv"}
JSON

# the stand-in images
IMAGES=${IMAGES:-$(ls -t /var/tmp/wharf-wordpress-images-*.tar 2>/dev/null | head -1)}
if [ -n "$IMAGES" ] && [ -f "$IMAGES" ]; then
  $W load -q -i "$IMAGES" >/dev/null
else
  WHARF="$W" "$repo/examples/wordpress/offline/build.sh" >/dev/null
  IMAGES=$work/images.tar
fi
$W save -o "$work/images.tar" mariadb:10.11 wordpress:latest

# the project: the example's file and .env, the probe interval changed (see above)
# (wharf's copy keeps start_interval, at $PROBE too; docker-compose 1.29 does not take the key,
# and dockerd 20.10 probes at the interval during the start period anyway)
mkdir -p "$work/proj" "$work/dproj" "$work/raw"
cp "$repo/examples/wordpress/.env" "$repo/examples/wordpress/compose.yaml" "$work/raw/"
cp "$repo/examples/wordpress/.env" "$work/proj/"
cp "$repo/examples/wordpress/.env" "$work/dproj/"
sed -e "s/start_interval: .*/start_interval: $PROBE/" -e "s/ interval: 10s/ interval: $PROBE/" \
  "$repo/examples/wordpress/compose.yaml" > "$work/proj/compose.yaml"
sed -e "/start_interval:/d" -e "s/ interval: 10s/ interval: $PROBE/" \
  "$repo/examples/wordpress/compose.yaml" > "$work/dproj/compose.yaml"
export WORDPRESS_PORT=$PORT

# wharf: first start (fresh volumes), second start, down; RSS with the stack up
declare -a w_first w_second w_down
peak_sup=0
for _ in $(seq "$RUNS"); do
  cd "$work/proj"
  t0=$(now_ms); $W compose -p wpbench up -d --wait >/dev/null 2>&1; wait_installer; w_first+=($(( $(now_ms) - t0 )))
  $W compose -p wpbench down >/dev/null 2>&1
  t0=$(now_ms); $W compose -p wpbench up -d --wait >/dev/null 2>&1; wait_installer; w_second+=($(( $(now_ms) - t0 )))
  sup=0
  for p in $(pgrep -f "__supervise $work/root"); do sup=$(( sup + $(rss_kb "$p") )); done
  [ "$sup" -gt "$peak_sup" ] && peak_sup=$sup
  t0=$(now_ms); $W compose -p wpbench down >/dev/null 2>&1; w_down+=($(( $(now_ms) - t0 )))
  $W compose -p wpbench down -v >/dev/null 2>&1
done
daemon_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$(cat "$work/run/wharf.pid")/status")
if [ "${RAW:-0}" = 1 ]; then
  declare -a w_raw
  cd "$work/raw"
  $W compose -p wpraw up -d --wait >/dev/null 2>&1; $W compose -p wpraw down >/dev/null 2>&1
  for _ in $(seq "$RUNS"); do
    t0=$(now_ms); $W compose -p wpraw up -d --wait >/dev/null 2>&1; wait_installer; w_raw+=($(( $(now_ms) - t0 )))
    $W compose -p wpraw down >/dev/null 2>&1
  done
  $W compose -p wpraw down -v >/dev/null 2>&1
fi
$W daemon stop >/dev/null 2>&1

if [ "${BARE:-0}" = 1 ]; then
# the servers bare: the images' root filesystems, chroot, a network namespace of their own
ip netns add $BNS
ip netns exec $BNS ip link set lo up
for img in mariadb:10.11 wordpress:latest; do
  name=${img%%:*}
  $W create --name "bare-$name" "$img" >/dev/null
  mkdir -p "$work/bare/$name"
  $W export "bare-$name" | tar -C "$work/bare/$name" -xf -
  $W rm "bare-$name" >/dev/null
  # What an engine writes into a container: without it mariadb-install-db cannot resolve the
  # host's name and gives up.
  printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost\n' "$(hostname)" > "$work/bare/$name/etc/hosts"
  printf 'nameserver 127.0.0.1\n' > "$work/bare/$name/etc/resolv.conf"
done
$W daemon stop >/dev/null 2>&1
# bare NAME ENV… -- CMD…: run CMD in NAME's root filesystem (own mount and pid ns), in the
# background of this shell (`$!` is its pid; not in `$(…)`, or `wait` could not reap it and a
# server would still be shutting down when the next run starts)
bare() {
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  nsenter --net=/run/netns/$BNS unshare -m -p -f --kill-child sh -c '
    root=$1; shift
    mount --rbind /dev "$root/dev"; mount -t proc proc "$root/proc"; mount -t tmpfs tmpfs "$root/run"
    mkdir -p "$root/run/mysqld" "$root/run/apache2" "$root/run/lock"; chroot "$root" chown mysql:mysql /run/mysqld 2>/dev/null
    exec chroot "$root" "$@"' sh "$work/bare/$name" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" "$@" \
    >>"$work/bare-$name.log" 2>&1 &
}
db_env=(MARIADB_ROOT_PASSWORD=somewordpress MARIADB_DATABASE=wordpress MARIADB_USER=wordpress MARIADB_PASSWORD=wordpress)
wp_env=(WORDPRESS_DB_HOST=127.0.0.1 WORDPRESS_DB_USER=wordpress WORDPRESS_DB_PASSWORD=wordpress WORDPRESS_DB_NAME=wordpress)
healthy() { nsenter --net=/run/netns/$BNS chroot "$work/bare/mariadb" healthcheck.sh --connect --innodb_initialized >/dev/null 2>&1; }
# MariaDB's own clean shutdown (a kill would make the next start recover InnoDB)
db_stop() {
  nsenter --net=/run/netns/$BNS chroot "$work/bare/mariadb" mariadb-admin -uroot -psomewordpress --protocol=tcp -h127.0.0.1 shutdown
  wait "$1" 2>/dev/null || true
}
# initialise the data directory and the site once (the second start is what is compared)
bare mariadb "${db_env[@]}" -- docker-entrypoint.sh mariadbd; db=$!
for _ in $(seq 6000); do healthy && break; sleep 0.01; done
bare wordpress "${wp_env[@]}" -- docker-entrypoint.sh apache2-foreground; wp=$!
wait_installer $BNS 80
kill -9 "$wp"; wait "$wp" 2>/dev/null || true
db_stop "$db"
declare -a bare_ms bare_db_ms
probe_s=$(awk -v p="$PROBE" 'BEGIN { if (sub(/ms$/, "", p)) print p / 1000; else { sub(/s$/, "", p); print p } }')
for _ in $(seq "$RUNS"); do
  t0=$(now_ms)
  bare mariadb "${db_env[@]}" -- docker-entrypoint.sh mariadbd; db=$!
  # MariaDB probed as often as the engines probe it ($PROBE), so the gate's granularity is
  # the same on both sides of the subtraction
  for _ in $(seq 600); do healthy && break; sleep "$probe_s"; done
  bare_db_ms+=($(( $(now_ms) - t0 )))
  bare wordpress "${wp_env[@]}" -- docker-entrypoint.sh apache2-foreground; wp=$!
  wait_installer $BNS 80
  bare_ms+=($(( $(now_ms) - t0 )))
  kill -9 "$wp"; wait "$wp" 2>/dev/null || true
  db_stop "$db"
done

fi

# docker-compose 1.29 + dockerd 20.10, in a network namespace of their own
ip netns add $DNS
ip netns exec $DNS ip link set lo up
nsenter --net=/run/netns/$DNS dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 300); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
$D load -i "$work/images.tar" >/dev/null
declare -a d_first d_second d_down
cd "$work/dproj"
for _ in $(seq "$RUNS"); do
  t0=$(now_ms); $DC -p wpbench up -d >/dev/null 2>&1
  # docker-compose 1.29 has no --wait: wait for the health status as it would be reported
  until [ "$($D inspect -f '{{.State.Health.Status}}' wpbench_db_1 2>/dev/null)" = healthy ]; do sleep 0.01; done
  wait_installer $DNS; d_first+=($(( $(now_ms) - t0 )))
  $DC -p wpbench down >/dev/null 2>&1
  t0=$(now_ms); $DC -p wpbench up -d >/dev/null 2>&1
  until [ "$($D inspect -f '{{.State.Health.Status}}' wpbench_db_1 2>/dev/null)" = healthy ]; do sleep 0.01; done
  wait_installer $DNS; d_second+=($(( $(now_ms) - t0 )))
  t0=$(now_ms); $DC -p wpbench down >/dev/null 2>&1; d_down+=($(( $(now_ms) - t0 )))
  $DC -p wpbench down -v >/dev/null 2>&1
done

med() { printf '%s\n' "$@" | median; }
ws=$(med "${w_second[@]}"); ds=$(med "${d_second[@]}")
echo "WordPress example, median of $RUNS (probe every $PROBE)   wharf   docker-compose 1.29 + dockerd"
printf '  up -d --wait → installer, first start    %6d ms   %6d ms\n' "$(med "${w_first[@]}")" "$(med "${d_first[@]}")"
printf '  up -d --wait → installer, second start   %6d ms   %6d ms   (%s of docker'"'"'s; target ≤ 1/3)\n' "$ws" "$ds" \
  "$(awk -v a="$ws" -v b="$ds" 'BEGIN {printf "1/%.1f", b / a}')"
printf '  down                                     %6d ms   %6d ms\n' "$(med "${w_down[@]}")" "$(med "${d_down[@]}")"
if [ "${BARE:-0}" = 1 ]; then
  bm=$(med "${bare_ms[@]}")
  printf '  servers bare (MariaDB healthy after %d ms, then Apache to the installer): %d ms; wharf overhead %d ms (target ≤ 100)\n' "$(med "${bare_db_ms[@]}")" "$bm" $(( ws - bm ))
fi
printf '  peak RSS: daemon %d kB (VmHWM), supervisors %d kB (sum, stack up)\n' "$daemon_hwm" "$peak_sup"
if [ "${RAW:-0}" = 1 ]; then
  printf '  wharf, the example file unchanged (start_interval 1s), second start: %d ms\n' "$(med "${w_raw[@]}")"
fi
