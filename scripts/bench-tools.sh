#!/usr/bin/env bash
# The load generators `make bench` drives: wrk (HTTP) and pgbench (Postgres),
# and the pooler its surge runs through (PgBouncer).
# Installed with apt when missing and this runs as root on Debian (pgbench ships
# with the server package there, which postgresql-contrib pulls in); otherwise
# one line says what to install, and make bench stops.
set -u

missing_packages() {
  command -v wrk >/dev/null 2>&1 || printf 'wrk '
  command -v pgbench >/dev/null 2>&1 || printf 'postgresql-contrib '
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || printf 'pgbouncer '
}

missing=$(missing_packages)
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench-tools: installing $missing" >&2
  # shellcheck disable=SC2086 # the package list is meant to split
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null
  missing=$(missing_packages)
fi
if [ -n "$missing" ]; then
  echo "bench-tools: make bench needs wrk, pgbench and pgbouncer: install them (apt-get install ${missing% }) and run it again" >&2
  exit 1
fi
exit 0
