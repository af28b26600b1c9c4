#!/usr/bin/env bash
# Fuzz the REST API against its own OpenAPI schema with schemathesis, on gunicorn on loopback:
# a fresh PostgreSQL database with the demo data, an administrator's token (so every write is
# tried), production settings (DEBUG off). Fails on any server error or any response that does
# not match the schema. Usage: bash scripts/api_fuzz.sh [max examples per operation, default 25]
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-${API_FUZZ_EXAMPLES:-25}}
port=${API_FUZZ_PORT:-8765}
db=${API_FUZZ_DB:-portal_api_fuzz}
pg=${API_FUZZ_PG:-postgres://postgres@127.0.0.1:5432}
out=artifacts/schemathesis
mkdir -p "$out"

export DATABASE_URL="$pg/$db" DEBUG=false SECRET_KEY=api-fuzz-only-not-a-secret ALLOWED_HOSTS=127.0.0.1
# Plain HTTP on 127.0.0.1: production would redirect it to HTTPS (and set HSTS).
export SECURE_SSL_REDIRECT=false
export STATIC_ROOT="$PWD/artifacts/fuzz-static" DEMO_PASSWORD=api-fuzz-pass-1 SECURE_COOKIES=false
export API_THROTTLE_USER=1000000/min API_THROTTLE_ANON=1000000/min CELERY_BROKER_URL= LOG_LEVEL=ERROR
PY=.venv/bin/python

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "Fresh database $db with the demo data"
$PY - "$pg" "$db" <<'PYEOF'
import sys, psycopg
with psycopg.connect(f"{sys.argv[1]}/postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PYEOF
$PY manage.py migrate --noinput -v0
$PY manage.py seed_demo --force >/dev/null
$PY manage.py collectstatic --noinput -v0
key=$($PY manage.py api_token admin --name schemathesis)

say "gunicorn on 127.0.0.1:$port"
.venv/bin/gunicorn portal.wsgi:application --bind "127.0.0.1:$port" --workers 2 --timeout 120 \
  --access-logfile /dev/null --error-logfile "$out/gunicorn.log" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/api/schema/" && break
  sleep 0.5
done

# One worker: hypothesis describes strategies by parsing source, which CPython 3.11 does not
# do safely from two threads at once ("AST constructor recursion depth mismatch").
say "schemathesis: $examples examples per operation"
started=$(date +%s)
.venv/bin/schemathesis run "http://127.0.0.1:$port/api/schema/" \
  --header "Authorization: Token $key" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "$examples" --workers 1 --seed 20261121 --request-timeout 60 \
  --phases examples,coverage,fuzzing,stateful --suppress-health-check too_slow,filter_too_much \
  --report junit --report-junit-path "$out/junit.xml" --no-color
echo "schemathesis finished in $(( $(date +%s) - started ))s"
