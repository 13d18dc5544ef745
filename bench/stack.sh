#!/usr/bin/env bash
# Swarm figures (issue 17), side by side on one swarm:
#   1. a 10-service stack (each with a healthcheck) deployed to running-and-healthy:
#      `wharf stack deploy --detach=false` (waits on task events) against
#      `docker stack deploy` + polling `docker stack ps` / `docker ps --filter health=healthy`
#      every 100 ms, the way a script waits for docker's.       target: wharf ≤ docker
#   2. the conversion alone: `wharf compose convert --format swarm` of the same file
#      (process start, load, convert, print)                     target ≤ 20 ms
# The swarm is Debian's dockerd 20.10 in a network namespace of its own (its iptables rules,
# bridges and overlay networks stay there), with its own data and exec roots and cgroup
# parent, `swarm init`ed, with a docker-registry at 127.0.0.1:5000 in the same namespace that
# wharf fills. Each run deploys a new stack name and removes it (waiting until its
# containers are gone) before the next, alternating the two tools.
# Needs root, docker.io, docker-registry, busybox-static; the docker CLI at $DOCKER_CLI.
# Usage: bench/stack.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/wharf}")
[ -x "$WHARF_BIN" ] || { cargo build --release && WHARF_BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/wharf"); }
DOCKER_CLI=${DOCKER_CLI:-/usr/local/bin/docker}
RUNS=${RUNS:-3}
SERVICES=${SERVICES:-10}

ns=wharf-bench-stack-$$
cg=wharf-bench-stack-$$
work=$(mktemp -d /tmp/wbs.XXXXXX)   # short: containerd's sockets live under the exec root
sock=$work/docker.sock
in_ns() { nsenter --net="/run/netns/$ns" "$@"; }
W() { in_ns "$WHARF_BIN" --root "$work/wharf" --run-root "$work/wharf-run" "$@"; }
D() { DOCKER_CONFIG=$work/docker-config "$DOCKER_CLI" -H "unix://$sock" "$@"; }
pids=()
cleanup() {
  W daemon stop >/dev/null 2>&1 || true
  D swarm leave --force >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # dockerd's containerd and shims, should any outlive it
  pkill -f -- "$work/exec" 2>/dev/null || true
  # dockerd's and wharf's mounts under the work dir, deepest first
  awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
  find /sys/fs/cgroup -depth -type d -path "*$cg*" -exec rmdir {} \; 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add s0 type veth peer name s1
ip -n "$ns" addr add 10.251.0.1/24 dev s0
ip -n "$ns" link set s0 up
ip -n "$ns" link set s1 up
cat >"$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/blobs
http:
  addr: 127.0.0.1:5000
EOF
# nsenter itself, not the function, in the background: $! is then the server's pid
nsenter --net="/run/netns/$ns" docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
nsenter --net="/run/netns/$ns" dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$sock" --cgroup-parent "$cg" >"$work/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do D version >/dev/null 2>&1 && break; sleep 0.1; done
D version >/dev/null || { cat "$work/dockerd.log"; exit 1; }
D swarm init --advertise-addr 10.251.0.1 >/dev/null

# the image: busybox, pushed by wharf to the swarm's registry
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
image=127.0.0.1:5000/bench/box:1
W import -c 'CMD ["sh"]' "$work/rootfs.tar" "$image" >/dev/null
W push "$image" >/dev/null
# the node has the image before either tool is timed (else the first run pays the pull)
D pull -q "$image" >/dev/null

file=$work/compose.yaml
{
  echo "services:"
  for i in $(seq 1 "$SERVICES"); do
    echo "  s$i:"
    echo "    image: $image"
    echo "    command: [sleep, \"1000\"]"
    echo "    init: true"
    echo "    environment: {ROLE: s$i}"
    echo "    networks: [back]"
    echo "    healthcheck: {test: [CMD, \"true\"], interval: 1s, timeout: 1s, retries: 3}"
  done
  echo "networks:"
  echo "  back: {}"
} >"$file"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# until no container of stack $1 is left on the node
gone() {
  while [ -n "$(D ps -aq --filter "label=com.docker.stack.namespace=$1")" ] ||
    [ -n "$(D network ls -q --filter "label=com.docker.stack.namespace=$1")" ]; do
    sleep 0.2
  done
}

wharf_deploy() {
  local t0 t1
  t0=$(now_ms)
  W -H "unix://$sock" stack deploy -q -c "$file" --detach=false "$1" >/dev/null
  t1=$(now_ms)
  echo $((t1 - t0))
  W -H "unix://$sock" stack rm "$1" >/dev/null
  gone "$1"
}

docker_deploy() {
  local t0 t1 running healthy
  t0=$(now_ms)
  D stack deploy -c "$file" "$1" >/dev/null 2>&1
  while :; do
    running=$(D stack ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true)
    healthy=$(D ps -q --filter "label=com.docker.stack.namespace=$1" --filter health=healthy | wc -l)
    [ "$running" -ge "$SERVICES" ] && [ "$healthy" -ge "$SERVICES" ] && break
    sleep 0.1
  done
  t1=$(now_ms)
  echo $((t1 - t0))
  D stack rm "$1" >/dev/null
  gone "$1"
}

: >"$work/wharf.ms"
: >"$work/docker.ms"
for r in $(seq 1 "$RUNS"); do
  # alternate which tool goes first
  if [ $((r % 2)) -eq 1 ]; then
    wharf_deploy "w$r" >>"$work/wharf.ms"
    docker_deploy "d$r" >>"$work/docker.ms"
  else
    docker_deploy "d$r" >>"$work/docker.ms"
    wharf_deploy "w$r" >>"$work/wharf.ms"
  fi
done
echo "$SERVICES-service stack to running and healthy (median of $RUNS, one swarm, dockerd $(D version --format '{{.Server.Version}}'))"
echo "  wharf stack deploy --detach=false:          $(median <"$work/wharf.ms") ms   (runs: $(tr '\n' ' ' <"$work/wharf.ms"))"
echo "  docker stack deploy + polling stack ps:     $(median <"$work/docker.ms") ms   (runs: $(tr '\n' ' ' <"$work/docker.ms"))"

conv=()
for _ in $(seq 1 20); do
  t0=$(date +%s%N)
  "$WHARF_BIN" compose -f "$file" -p bench convert --format swarm >/dev/null
  t1=$(date +%s%N)
  conv+=($(((t1 - t0) / 1000)))
done
printf '  compose convert --format swarm (conversion alone): %s ms (median of 20; target ≤ 20 ms)\n' \
  "$(printf '%s\n' "${conv[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')"
