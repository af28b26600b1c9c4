#!/usr/bin/env bash
# Start the local PostgreSQL and Redis if they are not running (no systemd on these machines).
set -euo pipefail

pg_host=${PGHOST:-127.0.0.1}
if ! pg_isready -q -h "$pg_host" -p 5432 2>/dev/null; then
  echo "==> Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p 5432 && break; sleep 1; done
fi
pg_isready -q -h "$pg_host" -p 5432 || { echo "PostgreSQL did not start on $pg_host:5432" >&2; exit 1; }

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "==> Starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/portal.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
