#!/bin/bash
# The official mariadb image's contract, as far as examples/wordpress uses it:
#  - MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MARIADB_RANDOM_ROOT_PASSWORD),
#    MARIADB_ROOT_HOST, MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD, and their MYSQL_* aliases;
#  - an empty /var/lib/mysql is initialised on the first start only (then *.sql / *.sh of
#    /docker-entrypoint-initdb.d run once);
#  - arguments that start with '-' are options for mariadbd;
#  - a healthcheck user for healthcheck.sh.
set -eo pipefail

log() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
die() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

for name in ROOT_PASSWORD ALLOW_EMPTY_ROOT_PASSWORD RANDOM_ROOT_PASSWORD ROOT_HOST DATABASE USER PASSWORD; do
	maria="MARIADB_$name" mysql="MYSQL_$name"
	if [ -z "${!maria}" ] && [ -n "${!mysql}" ]; then export "$maria=${!mysql}"; fi
done

if [ "${1:0:1}" = '-' ]; then
	set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
	exec "$@"
fi

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
mkdir -p "$DATADIR" /run/mysqld
chown mysql:mysql "$DATADIR" /run/mysqld

# SQL for a string literal: quotes and backslashes escaped.
sql_escape() { sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g" <<<"$1"; }

initialise() {
	if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		die "Database is uninitialized and password option is not specified
	You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
	fi
	log "Initializing database files"
	mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
		--auth-root-authentication-method=normal --old-mode='UTF8_IS_UTF8MB3' \
		--default-time-zone=SYSTEM --skip-log-bin --loose-innodb_buffer_pool_load_at_startup=0 \
		--loose-innodb_buffer_pool_dump_at_shutdown=0 >/dev/null
	log "Database files initialized"

	log "Starting temporary server"
	"$@" --user=mysql --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" \
		--wsrep_on=OFF --skip-log-bin --loose-innodb_buffer_pool_load_at_startup=0 &
	local pid=$!
	for _ in $(seq 300); do
		mariadb-admin --socket="$SOCKET" --user=root ping >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || die "Unable to start server."
		sleep 0.1
	done
	log "Temporary server started."

	if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
		MARIADB_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64)
		log "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi
	local root_pw root_host health_pw
	root_pw=$(sql_escape "$MARIADB_ROOT_PASSWORD")
	root_host=$(sql_escape "${MARIADB_ROOT_HOST:-%}")
	health_pw=$(head -c 24 /dev/urandom | base64)
	printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$SOCKET" "$health_pw" >"$DATADIR/.my-healthcheck.cnf"
	chown mysql:mysql "$DATADIR/.my-healthcheck.cnf"
	chmod 600 "$DATADIR/.my-healthcheck.cnf"
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
		echo "SET PASSWORD FOR 'root'@'localhost'=PASSWORD('$root_pw');"
		if [ "${MARIADB_ROOT_HOST:-%}" != localhost ]; then
			echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
			echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
		fi
		echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$health_pw';"
		echo "CREATE USER 'healthcheck'@'::1' IDENTIFIED BY '$health_pw';"
		echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$health_pw';"
		if [ -n "$MARIADB_DATABASE" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
		fi
		if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
			echo "CREATE USER '$(sql_escape "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
			if [ -n "$MARIADB_DATABASE" ]; then
				echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$(sql_escape "$MARIADB_USER")'@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$SOCKET" --user=root --password= --binary-mode

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) log "running $f"; . "$f" ;;
			*.sql) log "running $f"; mariadb --socket="$SOCKET" --user=root --password="$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} <"$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | mariadb --socket="$SOCKET" --user=root --password="$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} ;;
			*) ;;
		esac
	done

	log "Stopping temporary server"
	mariadb-admin --socket="$SOCKET" --user=root --password="$MARIADB_ROOT_PASSWORD" shutdown
	wait "$pid" || true
	log "Temporary server stopped"
	log "MariaDB init process done. Ready for start up."
}

if [ ! -d "$DATADIR/mysql" ]; then
	initialise "$@"
fi
exec setpriv --reuid=mysql --regid=mysql --init-groups "$@"
