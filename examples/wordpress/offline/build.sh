#!/bin/sh
# Build stand-ins for mariadb:10.11 and wordpress:latest from Debian bookworm's packages, for a
# machine that cannot reach Docker Hub. Then `wharf up -d --wait -f examples/wordpress/compose.yaml`
# runs the example unchanged.
#
#   WHARF=/path/to/wharf              the wharf to use (default: wharf on PATH)
#   DEBIAN_ROOTFS_TAR=bookworm.tar    an existing bookworm root filesystem to import as the base
#                                     (default: made with mmdebstrap from DEBIAN_MIRROR)
#   DEBIAN_MIRROR=http://…/debian     (default: http://deb.debian.org/debian)
# Extra arguments go to `wharf compose build` (e.g. --no-cache).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
wharf=${WHARF:-wharf}

if ! "$wharf" image inspect debian:bookworm >/dev/null 2>&1; then
	tar=${DEBIAN_ROOTFS_TAR:-}
	if [ -z "$tar" ]; then
		command -v mmdebstrap >/dev/null || { echo "build.sh: needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
		tmp=$(mktemp -d)
		trap 'rm -rf "$tmp"' EXIT
		tar=$tmp/bookworm.tar
		mmdebstrap --quiet --variant=apt bookworm "$tar" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
	fi
	"$wharf" import -c 'CMD ["bash"]' "$tar" debian:bookworm
fi
exec "$wharf" compose -f "$here/compose.build.yaml" build "$@"
