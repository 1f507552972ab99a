#!/usr/bin/env bash
# Make Postgres, Redis and PgBouncer available to the tests, or say in one line what to do.
# Postgres: a running server on 127.0.0.1:5432 (or TEST_DATABASE_URL) is used; a
# Debian cluster that is stopped is started; with neither, the tests fall back to
# the embedded Postgres of the pgserver wheel. Redis: the tests start their own
# redis-server, so only the binary is needed; it is installed when missing and
# this runs as root on Debian. PgBouncer likewise: the tests start their own, in
# transaction mode, in front of their database.
set -u

if [ -z "${TEST_DATABASE_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "ensure-services: starting Postgres $version cluster 'main'"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || echo "ensure-services: could not start it; the tests will use the embedded Postgres"
  else
    echo "ensure-services: no Postgres on 127.0.0.1:5432; the tests will use the embedded Postgres (pgserver)"
  fi
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: installing redis-server"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  fi
  if ! command -v redis-server >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    echo "ensure-services: no Redis: install redis-server (apt-get install redis-server) or set TEST_REDIS_URL" >&2
    exit 1
  fi
fi
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: installing pgbouncer"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer) >/dev/null
  fi
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    echo "ensure-services: no PgBouncer: install it (apt-get install pgbouncer)" >&2
    exit 1
  fi
fi
exit 0
