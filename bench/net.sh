#!/usr/bin/env bash
# Networking figures of src/net (root needed; Debian packages: nftables, iproute2):
#   bridge attach+detach per container, DNS round trip from a container namespace,
#   TCP throughput container->container on one bridge vs host loopback (same run),
#   published-port listener set-up (the socket holding a host port; one more port in an attach),
#   macvlan throughput container->parent-side namespace vs veth->veth,
#   dual-stack: attach+detach vs IPv4-only, TCP over IPv6 vs loopback, dual-stack port set-up.
# Usage: bench/net.sh [--debug]   (NET_BENCH_ITER=N to change the attach/detach count)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=--release
[ "${1:-}" = "--debug" ] && profile=
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wharf-target-net}"
exec cargo test $profile --test net_bench -- --ignored --nocapture --test-threads=1
