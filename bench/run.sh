#!/usr/bin/env bash
# make bench: our IdP against node-oidc-provider, endpoint by endpoint (docs/performance.md).
#
# Needs only what `make install` made (.venv) plus apt and npm: installs wrk (apt) and node
# (apt, when missing), the peer's packages (npm ci from bench/peer/package-lock.json), then runs
# `python -m bench.compare`, which starts Redis and PostgreSQL (apt-installed when missing),
# both servers, loads them in turn and stops everything it started, also on Ctrl-C.
#
# Environment: BENCH_WORKERS (2), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_DURATION (10 s), BENCH_WARMUP (2 s), BENCH_ROUNDS (1), BENCH_ENDPOINTS (a subset).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python
PEER=bench/peer

apt_install() {  # apt_install PACKAGE...: as root or with passwordless sudo
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" >/dev/null
  }
}

if [ ! -x "$PY" ]; then
  echo "bench: $PY is missing: run \`make install\` (or \`make bench\`) first" >&2
  exit 2
fi
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (apt) …"
  apt_install wrk
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "bench: installing node and npm (apt) …"
  apt_install nodejs npm
fi

# The peer's packages, exactly as locked. Reinstalled only when the lock file changed.
stamp="$PEER/node_modules/.bench-installed"
if [ ! -f "$stamp" ] || [ "$PEER/package-lock.json" -nt "$stamp" ] \
    || [ "$PEER/package.json" -nt "$stamp" ]; then
  echo "bench: installing the peer (npm ci in $PEER) …"
  if [ -f "$PEER/package-lock.json" ]; then
    (cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd "$PEER" && npm install --no-audit --no-fund --loglevel=error)
  fi
  node -e "require('$PWD/$PEER/node_modules/argon2')" \
    || { echo "bench: the argon2 package does not load on this machine" >&2; exit 1; }
  touch "$stamp"
fi

exec "$PY" -m bench.compare "$@"
