#!/usr/bin/env bash
# Install what the portal needs, idempotently: a virtual environment with the Python
# requirements, the npm packages, with --browser Debian's chromium for browser tests, and with
# --bench Debian's wrk for the load test (flags combine).
# Each step is skipped when its inputs have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_bench=0
for flag in "$@"; do
  case $flag in
    --browser) want_browser=1 ;;
    --bench) want_bench=1 ;;
    *) echo "usage: $0 [--browser] [--bench]" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [[ -n "$cand" ]] && command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# 1. Python virtual environment and requirements.
if [[ ! -x .venv/bin/python ]]; then
  py=$(pick_python)
  say "Creating .venv with $($py --version)"
  if ! "$py" -m venv .venv 2>/dev/null; then
    # Debian ships venv support separately (python3.X-venv).
    rm -rf .venv
    pkg="python$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
    as_root apt-get install -y "$pkg" >/dev/null || { as_root apt-get update >/dev/null && as_root apt-get install -y "$pkg" >/dev/null; }
    "$py" -m venv .venv
  fi
fi
req_stamp=.venv/.requirements.sha
req_hash=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $req_stamp || "$(cat $req_stamp)" != "$req_hash" ]]; then
  say "Installing Python requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$req_hash" > $req_stamp
fi

# 2. Front-end packages from the npm registry (served as static files, never committed).
if ! command -v npm >/dev/null 2>&1; then
  say "Installing Node.js and npm from Debian"
  as_root apt-get install -y nodejs npm >/dev/null || { as_root apt-get update >/dev/null && as_root apt-get install -y nodejs npm >/dev/null; }
fi
npm_stamp=node_modules/.lock.sha
npm_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $npm_stamp || "$(cat $npm_stamp)" != "$npm_hash" ]]; then
  say "Installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" > $npm_stamp
fi

# 3. Debian's chromium for the browser tests (Playwright's own download cannot work here).
if [[ $want_browser == 1 ]] && [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
  say "Installing Debian's chromium"
  as_root apt-get install -y chromium >/dev/null 2>&1 || { as_root apt-get update >/dev/null && as_root apt-get install -y chromium >/dev/null; }
fi

# 4. Debian's wrk for the load test of benchmarks/run.py.
if [[ $want_bench == 1 ]] && ! command -v wrk >/dev/null 2>&1; then
  say "Installing Debian's wrk"
  as_root apt-get install -y wrk >/dev/null 2>&1 || { as_root apt-get update >/dev/null && as_root apt-get install -y wrk >/dev/null; }
fi

# 5. The project's bytecode, as a deployment compiles it (pip does so for the packages): where
# PYTHONDONTWRITEBYTECODE is set, as on these machines, every command compiled about 340 modules
# from source again, 0.15 s of each `manage.py` start. Up-to-date files are skipped.
.venv/bin/python -m compileall -q -j 0 portal okrs streams teams core benchmarks >/dev/null
