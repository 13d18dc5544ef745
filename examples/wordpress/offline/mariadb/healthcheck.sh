#!/bin/bash
# The official mariadb image's healthcheck.sh, for the tests examples/wordpress uses:
#   --connect             the server accepts connections over TCP (not only its socket, so the
#                         entrypoint's temporary server, which has no network, is not "healthy")
#   --innodb_initialized  InnoDB is loaded and ready
# Several tests may be given; all must pass. It logs in as the healthcheck user the entrypoint
# created (credentials in /var/lib/mysql/.my-healthcheck.cnf).
set -eo pipefail

defaults=/var/lib/mysql/.my-healthcheck.cnf
[ -r "$defaults" ] || { echo "healthcheck.sh: $defaults is missing (not initialised by this image)" >&2; exit 1; }
query() { mariadb --defaults-extra-file="$defaults" --protocol=tcp --host=127.0.0.1 --skip-column-names --batch -e "$1"; }

[ $# -gt 0 ] || set -- --connect
for test in "$@"; do
	case "$test" in
		--connect) query 'SELECT 1' >/dev/null ;;
		--innodb_initialized)
			[ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine='InnoDB' AND support IN ('YES','DEFAULT','ENABLED')")" = 1 ] \
				|| { echo "healthcheck.sh: InnoDB is not initialised" >&2; exit 1; } ;;
		--*=*|--su=*|--defaults-file=*|--no-defaults) ;;  # options of the official script that need nothing here
		*) echo "healthcheck.sh: unknown test $test" >&2; exit 1 ;;
	esac
done
