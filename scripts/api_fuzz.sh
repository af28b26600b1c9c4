#!/usr/bin/env bash
# Fuzz the REST API against its own OpenAPI schema with schemathesis, on gunicorn on loopback:
# a fresh PostgreSQL database with the demo data, production settings (DEBUG off), three runs:
# - admin: an administrator's token, every operation (so every write is tried). Fails on any
#   server error or any response that does not match the schema;
# - viewer and owner (a product owner): the write operations only (POST/PUT/PATCH/DELETE), with
#   realistic ids and slugs from the database and the check `role_write_scope` of
#   scripts/fuzz_roles.py besides: any write the role may not do that answers 2xx fails.
# Each run is timed; the script fails, naming the roles, if any run failed. JUnit reports and
# logs per role in artifacts/schemathesis/.
# Usage: bash scripts/api_fuzz.sh [max examples per operation, default 25]
# (API_FUZZ_ROLE_EXAMPLES: for the two role runs, default the same; API_FUZZ_ROLES: which runs,
# default "admin viewer owner").
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-${API_FUZZ_EXAMPLES:-25}}
role_examples=${API_FUZZ_ROLE_EXAMPLES:-$examples}
roles=${API_FUZZ_ROLES:-admin viewer owner}
port=${API_FUZZ_PORT:-8765}
db=${API_FUZZ_DB:-portal_api_fuzz}
pg=${API_FUZZ_PG:-postgres://postgres@127.0.0.1:5432}
out=artifacts/schemathesis
mkdir -p "$out"
rm -f "$out"/junit*.xml "$out"/writes-*.txt  # no stale report from an earlier run

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
declare -A key
for role in $roles; do
  key[$role]=$($PY manage.py api_token "$role" --name schemathesis)
done

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
checks=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
failed=() summary=()
fuzz() {  # role, max examples, extra schemathesis arguments
  local role=$1 n=$2 rc=0 started
  shift 2
  started=$(date +%s)
  .venv/bin/schemathesis run "http://127.0.0.1:$port/api/schema/" \
    --header "Authorization: Token ${key[$role]}" \
    --max-examples "$n" --workers 1 --seed 20261121 --request-timeout 60 \
    --phases examples,coverage,fuzzing,stateful --suppress-health-check too_slow,filter_too_much \
    --report junit --report-junit-path "$out/junit-$role.xml" --no-color "$@" 2>&1 | tee "$out/$role.log" || rc=$?
  local took=$(( $(date +%s) - started ))
  local cases
  cases=$(grep -Eo '[0-9]+ generated[^"]*$' "$out/$role.log" | tail -1 || true)
  echo "schemathesis as $role finished in ${took}s (exit $rc)"
  summary+=("$(printf '%-7s %4ss  %s  %s' "$role" "$took" "$([ $rc -eq 0 ] && echo passed || echo FAILED)" "$cases")")
  [ $rc -eq 0 ] || failed+=("$role")
}

for role in $roles; do
  case $role in
    admin)
      say "schemathesis as admin: $examples examples per operation"
      fuzz admin "$examples" --checks "$checks"
      ;;
    viewer | owner)
      say "schemathesis as $role: the writes, $role_examples examples per operation"
      SCHEMATHESIS_HOOKS=scripts/fuzz_roles.py API_FUZZ_ROLE=$role API_FUZZ_USER=$role \
        API_FUZZ_REPORT="$out/writes-$role.txt" \
        fuzz "$role" "$role_examples" --checks "$checks,role_write_scope" \
        --include-method POST --include-method PUT --include-method PATCH --include-method DELETE
      if [ -f "$out/writes-$role.txt" ]; then cat "$out/writes-$role.txt"; fi
      ;;
    *) echo "unknown role $role (API_FUZZ_ROLES: admin, viewer, owner)" >&2; exit 2 ;;
  esac
done

say "schemathesis runs"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "API fuzzing FAILED for: ${failed[*]} (see above and $out/<role>.log)" >&2
  exit 1
fi
