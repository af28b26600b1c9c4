#!/usr/bin/env bash
# Start the local PostgreSQL and Redis if they are not running (no systemd on these machines).
# On a machine without them, install them from Debian first; a fresh PostgreSQL is set to
# trust connections from loopback, as the test settings expect (user postgres, no password).
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get install -y "$@" >/dev/null 2>&1 || { as_root apt-get update >/dev/null && as_root apt-get install -y "$@" >/dev/null; }
}

pg_host=${PGHOST:-127.0.0.1}
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "==> Installing PostgreSQL from Debian"
  apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi
if ! pg_isready -q -h "$pg_host" -p 5432 2>/dev/null; then
  echo "==> Starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p 5432 && break; sleep 1; done
fi
pg_isready -q -h "$pg_host" -p 5432 || { echo "PostgreSQL did not start on $pg_host:5432" >&2; exit 1; }

if ! command -v redis-server >/dev/null 2>&1; then
  echo "==> Installing Redis from Debian"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> Starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/portal.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
