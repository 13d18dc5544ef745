#!/usr/bin/env bash
# Compatibility yardstick (issue 12): docker-py's own integration suite against a private
# `wharf daemon`, printing the pass count.
#
# Usage: bench/docker-py.sh /path/to/docker-py-checkout [path/to/wharf] [pytest args...]
#   The checkout is docker-py at tag 7.2.0, kept outside this repository, e.g.
#     git --git-dir=<mirror of github:docker/docker-py> archive 7.2.0 | tar -x -C /var/tmp/docker-py-7.2.0
#   Python: $VENV (default /var/tmp/dockerpy-venv) with `pip install docker==7.2.0 paramiko pytest
#   pytest-timeout websocket-client`; created on first use.
#   Transport: TCP on a free loopback port, as docker-py's own CI runs it (its websocket attach
#   test builds a ws:// URL, which a unix:// DOCKER_HOST cannot give); TRANSPORT=unix for the
#   engine's socket instead.
#   wharf: default ${CARGO_TARGET_DIR:-target}/debug/wharf (built if missing).
#
# Excluded, as the issue says: the swarm/service/secret/config/plugin/node files, the tests
# elsewhere that need a swarm, and the tests that pull from Docker Hub (this machine cannot
# reach it). Everything else counts, including
# tests that wharf fails. The test images docker-py names (alpine:3.10, alpine:latest,
# busybox:latest, busybox:buildroot-2014.02) are imported from a busybox-static root filesystem.
# Output: the summary, the failed tests in $work/failed.txt (kept when KEEP=1), and last a line
#   docker-py: PASSED of TOTAL passed (P %)
set -euo pipefail
CHECKOUT=$(realpath "${1:?usage: bench/docker-py.sh DOCKER_PY_CHECKOUT [WHARF] [PYTEST ARGS...]}")
shift
cd "$(dirname "$0")/.."
WHARF_BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/wharf}
[ $# -gt 0 ] && shift
[ -x "$WHARF_BIN" ] || cargo build
WHARF_BIN=$(realpath "$WHARF_BIN")
VENV=${VENV:-/var/tmp/dockerpy-venv}
if [ ! -x "$VENV/bin/pytest" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q docker==7.2.0 paramiko pytest pytest-timeout websocket-client
fi
"$VENV/bin/python" -c 'import websocket' 2>/dev/null || "$VENV/bin/pip" install -q websocket-client

work=$(mktemp -d /var/tmp/wharf-docker-py.XXXXXX)
if [ "${TRANSPORT:-tcp}" = unix ]; then
  HOST="unix://$work/run/wharf.sock"
else
  HOST="tcp://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
W="$WHARF_BIN --root $work/root --run-root $work/run -H $HOST"
daemon_pid=
cleanup() {
  # shellcheck disable=SC2046
  $W rm -f -v $($W ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  nft delete table inet wharf_bench_dpy >/dev/null 2>&1 || true
  nft delete table ip wharf_bench_dpy >/dev/null 2>&1 || true
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^wdp'); do
    ip link del "$l" >/dev/null 2>&1 || true
  done
  for m in "$work"/run/netns/*; do umount "$m" >/dev/null 2>&1 || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

# Own host names and subnets (10.250.0.0/16: no test slot uses it).
mkdir -p "$work/root" "$work/run"
cat > "$work/root/daemon.json" <<'JSON'
{"bridge": "wdpd0", "bip": "10.250.255.0/24", "nft-table": "wharf_bench_dpy",
 "default-address-pools": [{"base": "10.250.0.0/17", "size": 24}],
 "bridge-prefix": "wdpb", "veth-prefix": "wdpv"}
JSON
$W daemon >"$work/daemon.log" 2>&1 &
daemon_pid=$!
ping() {
  case $HOST in
    unix://*) curl -fsS --unix-socket "${HOST#unix://}" http://x/_ping ;;
    *) curl -fsS "http://${HOST#tcp://}/_ping" ;;
  esac
}
for _ in $(seq 100); do
  ping >/dev/null 2>&1 && break
  sleep 0.1
done

# busybox-static with every applet, as the test images.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/root"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
# Alpine's users and groups (docker-py execs as `postgres`).
cat > "$work/rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
postgres:x:70:70::/var/lib/postgresql:/bin/sh
EOF
printf 'root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\npostgres:x:70:\nnobody:x:65534:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$W import -c 'CMD ["/bin/sh"]' "$work/rootfs.tar" alpine:3.10 >/dev/null
for tag in alpine:latest busybox:latest busybox:buildroot-2014.02; do $W tag alpine:3.10 "$tag"; done

cd "$CHECKOUT"
files=()
for f in tests/integration/*_test.py; do
  case $(basename "$f") in
    *swarm* | *service* | *secret* | *config* | *plugin* | *node*) ;;
    *) files+=("$f") ;;
  esac
done
# Tests that pull from (or need images only on) Docker Hub.
hub=(
  api_image_test.py::PullImageTest::test_pull
  api_image_test.py::PullImageTest::test_pull_streaming
  api_image_test.py::PullImageTest::test_pull_invalid_platform
  api_image_test.py::ImportImageTest::test_get_load_image
  api_image_test.py::PruneImagesTest::test_prune_images
  api_image_test.py::InspectDistributionTest::test_inspect_distribution
  models_images_test.py::ImageCollectionTest::test_list
  models_images_test.py::ImageCollectionTest::test_list_with_repository
  models_images_test.py::ImageCollectionTest::test_pull
  models_images_test.py::ImageCollectionTest::test_pull_with_tag
  models_images_test.py::ImageCollectionTest::test_pull_with_sha
  models_images_test.py::ImageCollectionTest::test_pull_multiple
  models_images_test.py::ImageTest::test_tag_and_remove
)
# Tests outside the swarm files that start with `init_swarm()` (swarm is excluded).
swarm=(
  api_network_test.py::TestNetworks::test_create_network_attachable
  api_network_test.py::TestNetworks::test_create_network_ingress
  api_network_test.py::TestNetworks::test_create_inspect_network_with_scope
)
deselect=()
for t in "${hub[@]}" "${swarm[@]}"; do deselect+=(--deselect "tests/integration/$t"); done

set +e
# Contexts and credentials: this run's own. docker-py keeps contexts next to config.json, or
# in ./contexts of the checkout when there is none.
mkdir -p "$work/docker-config"
echo '{}' > "$work/docker-config/config.json"
rm -rf "$CHECKOUT/contexts"
DOCKER_CONFIG="$work/docker-config" DOCKER_HOST="$HOST" "$VENV/bin/pytest" -p no:cacheprovider -q \
  --timeout=60 --junitxml="$work/junit.xml" "${deselect[@]}" "${files[@]}" "$@" \
  >"$work/pytest.log" 2>&1
set -e
tail -n 3 "$work/pytest.log"
"$VENV/bin/python" - "$work/junit.xml" "$work/failed.txt" <<'PY'
import sys, xml.etree.ElementTree as ET
# A test that fails and then errors in teardown has two entries: count it once, as failed.
outcome = {}
for c in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    kinds = {child.tag for child in c}
    test = f'{c.get("classname")}::{c.get("name")}'
    if "skipped" in kinds:
        outcome.setdefault(test, "skipped")
    elif kinds & {"failure", "error"}:
        outcome[test] = "failed"
    elif outcome.get(test) != "failed":
        outcome[test] = "passed"
counted = {t: o for t, o in outcome.items() if o != "skipped"}
total = len(counted)
passed = sum(1 for o in counted.values() if o == "passed")
failed = sorted(t for t, o in counted.items() if o == "failed")
open(sys.argv[2], "w").write("\n".join(failed) + "\n")
pct = 100.0 * passed / total if total else 0.0
print(f"docker-py: {passed} of {total} passed ({pct:.1f} %)")
PY
if [ "${KEEP:-0}" = 1 ]; then cat "$work/failed.txt"; fi
