#!/bin/bash
# The official wordpress image's contract, as far as examples/wordpress uses it:
#  - the site is copied into an empty /var/www/html on the first start (a named volume keeps
#    it, plugins and uploads included, across recreations);
#  - wp-config.php is written once from wp-config-docker.php, which reads WORDPRESS_DB_HOST,
#    WORDPRESS_DB_USER, WORDPRESS_DB_PASSWORD, WORDPRESS_DB_NAME, WORDPRESS_TABLE_PREFIX,
#    WORDPRESS_DEBUG, WORDPRESS_CONFIG_EXTRA and the WORDPRESS_*_KEY/_SALT values from the
#    environment on every request; keys and salts not given are random, fixed at that time.
set -euo pipefail

if [[ "$1" == apache2* ]]; then
	cd /var/www/html
	if [ ! -e index.php ] && [ ! -e wp-includes/version.php ]; then
		echo >&2 "WordPress not found in $PWD - copying now..."
		cp -a /usr/src/wordpress/. .
		echo >&2 "Complete! WordPress has been successfully copied to $PWD"
	fi
	wp_envs=("${!WORDPRESS_@}")
	if [ ! -s wp-config.php ] && [ "${#wp_envs[@]}" -gt 0 ]; then
		echo >&2 "No 'wp-config.php' found in $PWD, but 'WORDPRESS_...' variables supplied; copying 'wp-config-docker.php' (${wp_envs[*]})"
		awk '
			/put your unique phrase here/ {
				cmd = "head -c1m /dev/urandom | sha1sum | cut -d\\  -f1"
				cmd | getline str
				close(cmd)
				gsub("put your unique phrase here", str)
			}
			{ print }
		' wp-config-docker.php > wp-config.php
		chown www-data:www-data wp-config.php
	fi
fi
exec "$@"
