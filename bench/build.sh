#!/usr/bin/env bash
# Build figures (issue 10), wharf and Debian's dockerd (classic builder) side by side in one
# run, on the same busybox base and the same 10-step Dockerfile (ARG, ENV, WORKDIR, COPY of a
# directory, two RUNs, LABEL, EXPOSE, CMD):
#   1. cold build (--no-cache), median of $RUNS        target ≤ 1/4 of docker's
#   2. fully cached rebuild, median of $RUNS           target ≤ 1/5 of docker's
#   3. one file edited in a 1,000-file context: wharf's rebuild (COPY and the steps after it)
#   4. a RUN step's overhead over the same command in `wharf run`   target ≤ 15 ms
#   5. the daemon's peak RSS over the whole run (VmHWM)   target ≤ 30 MB
#   6. a Debian bookworm image whose RUN installs a package with apt-get (apt-get update and
#      install of `hello` from Debian's mirror), --no-cache, median of $DEBIAN_RUNS (default 3;
#      0 skips it), wharf and docker alternating. The base is the test suite's mmdebstrap root
#      filesystem (/var/tmp/wharf-build-debian-<recipe key>.tar, made here if missing). wharf's
#      RUN reaches the mirror through its bridge and NAT, docker's with `--network host`
#      (this dockerd has no bridge): docker is spared the NAT.
# dockerd runs with its own data root, exec root and socket, --iptables=false --bridge=none
# (the host's filter rules stay as they are; its RUN steps then have no network, wharf's use
# its bridge), and is stopped at the end.
# Needs root, busybox-static and docker.io (dockerd + the docker CLI).
# Usage: bench/build.sh [path/to/wharf]   (default: target/release/wharf, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/release/wharf}
[ -x "$WHARF_BIN" ] || cargo build --release
RUNS=${RUNS:-5}
DOCKER=${DOCKER:-/usr/local/bin/docker}

work=$(mktemp -d /tmp/wharf-bench-build.XXXXXX)
W="$WHARF_BIN --root $work/root --run-root $work/run"
D="$DOCKER -H unix://$work/docker.sock"
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f -v $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  $W daemon stop >/dev/null 2>&1 || true
  if [ -f "$work/docker.pid" ]; then
    kill "$(cat "$work/docker.pid")" 2>/dev/null || true
    for _ in $(seq 100); do [ -e "$work/docker.pid" ] || break; sleep 0.1; done
  fi
  nft delete table inet wharf_bench_build >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_build >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wbb'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/* "$work"/docker/*/mounts/* ; do umount "$m" >/dev/null 2>&1 || true; done
  grep -o "$work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wbbd0", "bip": "10.213.252.0/24", "nft-table": "wharf_bench_build",
 "default-address-pools": [{"base": "10.213.64.0/18", "size": 24}],
 "bridge-prefix": "wbbb", "veth-prefix": "wbbv"}
JSON
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true echo ls cat; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox >/dev/null

dockerd --iptables=false --bridge=none --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" >"$work/dockerd.log" 2>&1 &
for _ in $(seq 200); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
$D import -c 'CMD ["sh"]' "$work/rootfs.tar" busybox >/dev/null

ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 1 20); do echo "file $i" > "$ctx/src/f$i.txt"; done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ARG VERSION=1
ENV APP_VERSION=$VERSION
WORKDIR /app
COPY src/ /app/src/
RUN echo "building $APP_VERSION" > /app/build.txt
RUN ls -R /app > /app/files.txt
LABEL org.example.version=$VERSION
EXPOSE 8080
CMD ["cat", "/app/build.txt"]
EOF

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null; echo $(( $(now_ms) - t0 )); }

# warm both (first builds pay one-off costs: daemon start, image unpacking)
$W build -q -t bench "$ctx" >/dev/null
DOCKER_BUILDKIT=0 $D build -q -t bench "$ctx" >/dev/null

wc=(); dc=(); wh=(); dh=()
for _ in $(seq "$RUNS"); do
  wc+=("$(time_ms $W build -q --no-cache -t bench "$ctx")")
  dc+=("$(DOCKER_BUILDKIT=0 time_ms $D build -q --no-cache -t bench "$ctx")")
  wh+=("$(time_ms $W build -q -t bench "$ctx")")
  dh+=("$(DOCKER_BUILDKIT=0 time_ms $D build -q -t bench "$ctx")")
done
wcm=$(printf '%s\n' "${wc[@]}" | median); dcm=$(printf '%s\n' "${dc[@]}" | median)
whm=$(printf '%s\n' "${wh[@]}" | median); dhm=$(printf '%s\n' "${dh[@]}" | median)
echo "check: $($W run --rm --network none bench)"
printf 'cold build (--no-cache), median of %d:  wharf %4d ms   docker %4d ms   ratio 1/%s\n' \
  "$RUNS" "$wcm" "$dcm" "$(awk -v a="$wcm" -v b="$dcm" 'BEGIN{printf "%.1f", b/a}')"
printf 'fully cached rebuild, median of %d:     wharf %4d ms   docker %4d ms   ratio 1/%s\n' \
  "$RUNS" "$whm" "$dhm" "$(awk -v a="$whm" -v b="$dhm" 'BEGIN{printf "%.1f", b/a}')"

# 3. a 1,000-file context, one file edited between builds
big=$work/big
mkdir -p "$big/src"
for i in $(seq 1 1000); do echo "file $i" > "$big/src/f$i.txt"; done
cp "$ctx/Dockerfile" "$big/"
$W build -q -t big "$big" >/dev/null
DOCKER_BUILDKIT=0 $D build -q -t big "$big" >/dev/null
# Each output line stamped with the ms since the build started: "Step 6" is printed once the
# COPY (context sync, layer, commit) is done, so it splits the rebuild into the COPY and the
# steps after it.
stamp() { while IFS= read -r line; do echo "$(( $(now_ms) - $1 )) $line"; done; }
we=(); wcopy=(); de=()
for i in $(seq "$RUNS"); do
  echo "edit $i" > "$big/src/f500.txt"
  t0=$(now_ms)
  $W build --progress plain -t big "$big" 2>&1 | stamp "$t0" > "$work/edit.log"
  we+=("$(( $(now_ms) - t0 ))")
  wcopy+=("$(awk '/^[0-9]+ Step 6\/10/ {print $1; exit}' "$work/edit.log")")
  de+=("$(DOCKER_BUILDKIT=0 time_ms $D build -q -t big "$big")")
done
printf 'one file edited in a 1,000-file context, median of %d: wharf %d ms in all, %d ms until its COPY is done (target ≤ 50 ms), the 5 steps after it the rest; docker %d ms\n' \
  "$RUNS" "$(printf '%s\n' "${we[@]}" | median)" "$(printf '%s\n' "${wcopy[@]}" | median)" "$(printf '%s\n' "${de[@]}" | median)"

# 4. a RUN step's overhead over the same command in `wharf run`: the step is a --no-cache build of
# FROM + RUN less one of FROM alone (both without network, as the `run` is)
one=$work/one; mkdir -p "$one/run" "$one/from"
printf 'FROM busybox\nRUN --network=none true\n' > "$one/run/Dockerfile"
printf 'FROM busybox\nLABEL x=1\n' > "$one/from/Dockerfile"
$W build -q --no-cache -t one "$one/run" >/dev/null
rr=(); rf=(); rn=()
for _ in $(seq "$RUNS"); do
  rr+=("$(time_ms $W build -q --no-cache -t one "$one/run")")
  rf+=("$(time_ms $W build -q --no-cache -t one "$one/from")")
  rn+=("$(time_ms $W run --rm --network none busybox true)")
done
rrm=$(printf '%s\n' "${rr[@]}" | median); rfm=$(printf '%s\n' "${rf[@]}" | median)
rnm=$(printf '%s\n' "${rn[@]}" | median)
printf 'RUN true as a build step, median of %d: %d ms (a FROM+RUN build %d ms less a FROM+LABEL one %d ms); `wharf run --rm` of it %d ms; overhead %d ms (target ≤ 15)\n' \
  "$RUNS" $(( rrm - rfm )) "$rrm" "$rfm" "$rnm" $(( rrm - rfm - rnm ))

pid=$(cat "$work/run/wharf.pid")
printf 'daemon peak RSS over the run (VmHWM): %s\n' "$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")"

# 6. the Debian build with apt-get, side by side
DEBIAN_RUNS=${DEBIAN_RUNS:-3}
if [ "$DEBIAN_RUNS" -gt 0 ]; then
  recipe='["--quiet", "--variant=apt", "bookworm"] http://deb.debian.org/debian'
  key=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
  base=/var/tmp/wharf-build-debian-$key.tar
  if [ ! -e "$base" ]; then
    (
      flock 9
      [ -e "$base" ] || { mmdebstrap --quiet --variant=apt bookworm "$base.$$.tar" http://deb.debian.org/debian && mv "$base.$$.tar" "$base"; }
    ) 9>"/var/tmp/wharf-build-debian-$key.lock"
  fi
  $W import "$base" bookworm >/dev/null
  $D import "$base" bookworm >/dev/null
  deb=$work/deb; mkdir -p "$deb"
  printf 'FROM bookworm\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\nCMD ["hello"]\n' > "$deb/Dockerfile"
  wd=(); dd=()
  for _ in $(seq "$DEBIAN_RUNS"); do
    wd+=("$(time_ms $W build -q --no-cache -t deb "$deb")")
    dd+=("$(DOCKER_BUILDKIT=0 time_ms $D build -q --no-cache --network host -t deb "$deb")")
  done
  echo "check: $($W run --rm --network none deb) / $($D run --rm --network none deb)"
  wdm=$(printf '%s\n' "${wd[@]}" | median); ddm=$(printf '%s\n' "${dd[@]}" | median)
  printf 'Debian build with apt-get install (--no-cache), median of %d: wharf %d ms   docker %d ms   ratio 1/%s   (wharf runs: %s; docker: %s)\n' \
    "$DEBIAN_RUNS" "$wdm" "$ddm" "$(awk -v a="$wdm" -v b="$ddm" 'BEGIN{printf "%.2f", b/a}')" "${wd[*]}" "${dd[*]}"
fi
