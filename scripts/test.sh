#!/usr/bin/env bash
# make test: the full suite on real SQLite, PostgreSQL, Redis and Chromium.
# Installs the Debian packages the suite needs when they are missing (fresh machine), then runs
# pytest. pytest's exit status 5 ("no tests collected") is a failure here, not a success.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if ((${#need[@]})); then
  echo "installing test services: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

workers="${PYTEST_WORKERS:-2}"
set +e
$BIN/python -m pytest -n "$workers" --dist loadgroup -q "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
