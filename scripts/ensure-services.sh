#!/usr/bin/env bash
# Makes sure what the test suite needs is installed and running: PostgreSQL, Redis and RabbitMQ
# (started when stopped), Kannel with its fake SMSC, and Chromium. Installs from Debian's packages when
# missing. A service that cannot be had is an error: the suite never skips it.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  # Service scripts may fail to configure without an init system; the binaries still work.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" || true
}
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for pkg in postgresql redis-server rabbitmq-server chromium chromium-driver kannel kannel-extras; do
  need_pkg "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing from Debian's packages: ${missing[*]}"
  apt_install "${missing[@]}"
fi
for bin in chromium /usr/sbin/bearerbox /usr/sbin/smsbox /usr/lib/kannel/test/fakesmsc; do
  command -v "$bin" >/dev/null || { echo "ERROR: $bin is not installed" >&2; exit 1; }
done

# PostgreSQL on 127.0.0.1:5432 with the postgres user.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "Starting PostgreSQL $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# The suite's own role and database, made over the local socket as the postgres superuser
# (peer authentication), so no password prompt and no change to pg_hba.conf.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
if ! PGPASSWORD=portal psql -w -h 127.0.0.1 -U portal -d portal -tAc "select 1" >/dev/null 2>&1; then
  echo "Creating the PostgreSQL role and database 'portal' for the test suite"
  as_postgres psql -v ON_ERROR_STOP=1 -q -d postgres <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal') THEN
    CREATE ROLE portal LOGIN CREATEDB PASSWORD 'portal';
  ELSE
    ALTER ROLE portal LOGIN CREATEDB PASSWORD 'portal';
  END IF;
END$$;
SQL
  as_postgres psql -q -d postgres -tAc "select 1 from pg_database where datname='portal'" | grep -q 1 \
    || as_postgres createdb -O portal portal
fi
PGPASSWORD=portal psql -w -h 127.0.0.1 -U portal -d portal -tAc "select 1" >/dev/null \
  || { echo "ERROR: PostgreSQL does not accept the test role 'portal' on 127.0.0.1" >&2; exit 1; }

# Redis on 127.0.0.1:6379.
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "ERROR: Redis is not reachable" >&2; exit 1; }

# RabbitMQ on 127.0.0.1:5672 (its default guest user, allowed from this machine only): the second
# broker the worker-recovery tests run on. Debian's wrapper switches to the rabbitmq user.
rabbitmq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! rabbitmq_up; then
  echo "Starting RabbitMQ"
  $SUDO rabbitmq-server -detached || true
  for _ in $(seq 60); do rabbitmq_up && break; sleep 1; done
fi
rabbitmq_up || { echo "ERROR: RabbitMQ is not reachable on 127.0.0.1:5672" >&2; exit 1; }
echo "Services ready: PostgreSQL, Redis, RabbitMQ, Kannel, Chromium."
