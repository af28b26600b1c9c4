#!/usr/bin/env bash
# Set the local PostgreSQL as a server holding the portal's data at scale is set (README,
# "Running on PostgreSQL"), restarting it when a setting changes; nothing happens when all are
# set already. Debian's defaults are for a small shared machine: 128 MB of shared buffers,
# 4 MB of WAL buffers (a board import of 630,000 moves filled them 52,000 times) and a
# checkpoint every 1 GB of WAL (every ~20 s during an import). Measured on 2 cores: the board
# import 13.4 -> 11.1-11.6 s, its flow_metrics 6.2 -> 5.3-5.5 s.
set -euo pipefail

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
pg_host=${PGHOST:-127.0.0.1}
memory_mb=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
# A quarter of memory, at most 2 GB: the rest is the operating system's cache and the portal's.
shared_mb=$(( memory_mb / 4 < 2048 ? memory_mb / 4 : 2048 ))
declare -A wanted=([shared_buffers]="${shared_mb}MB" [wal_buffers]="64MB" [max_wal_size]="8GB")

psql_() { psql -h "$pg_host" -U postgres -d postgres -Atq "$@"; }
changed=0
for name in "${!wanted[@]}"; do
  # Compare in the server's own unit (pg_size_bytes reads "2GB" and "2048MB" alike).
  if [[ $(psql_ -c "SELECT pg_size_bytes(current_setting('$name')) = pg_size_bytes('${wanted[$name]}')") != t ]]; then
    psql_ -c "ALTER SYSTEM SET $name = '${wanted[$name]}'"
    changed=1
  fi
done
if [[ $changed == 1 ]]; then
  echo "==> Restarting PostgreSQL with shared_buffers ${wanted[shared_buffers]}, wal_buffers ${wanted[wal_buffers]}, max_wal_size ${wanted[max_wal_size]}"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main restart
  for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p 5432 && break; sleep 1; done
  pg_isready -q -h "$pg_host" -p 5432 || { echo "PostgreSQL did not come back on $pg_host:5432" >&2; exit 1; }
fi
