#!/usr/bin/env bash
# make run: migrate, seed demo data, start the IdP and the demo department portal.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export IDP_ISSUER="${IDP_ISSUER:-http://localhost:5000}"
export IDP_DATA_DIR="${IDP_DATA_DIR:-var}"
export IDP_KEYS_DIR="${IDP_KEYS_DIR:-keys/dev}"
IDP_PORT="${IDP_PORT:-5000}"
PORTAL_PORT="${PORTAL_PORT:-5001}"

$BIN/idp init
$BIN/idp seed-demo >/dev/null
creds="$IDP_DATA_DIR/demo-clients.json"
$BIN/python - "$creds" "$IDP_DATA_DIR/portal.json" "$PORTAL_PORT" <<'PY'
import json, os, sys
src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3]
demo = json.load(open(src))
web = demo["clients"]["website"]
cfg = {"issuer": demo["issuer"], "client_id": web["client_id"],
       "client_secret": web["client_secret"], "base_url": f"http://localhost:{port}",
       "port": int(port)}
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    json.dump(cfg, fh)
PY

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/idp serve --host 127.0.0.1 --port "$IDP_PORT" --workers 2 &
pids+=($!)
$BIN/python -m clients.website --config "$IDP_DATA_DIR/portal.json" &
pids+=($!)

for _ in $(seq 1 50); do
  $BIN/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$IDP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
$BIN/python - "$creds" "$IDP_PORT" "$PORTAL_PORT" <<'PY'
import json, sys
demo = json.load(open(sys.argv[1]))
idp, portal = sys.argv[2], sys.argv[3]
print()
print("=" * 72)
print(f" 一网通办 Unified Identity    IdP:          http://localhost:{idp}")
print(f" 示例部门门户 Demo portal      open this →   http://localhost:{portal}")
print(" Demo citizens (sign in with the ID number or the phone number):")
for c in demo["citizens"]:
    print(f"   {c['name']}  ID {c['id_number']}  phone {c['phone']}  password {c['password']}")
print(" Client credentials:", sys.argv[1])
print(" Ctrl-C stops both.")
print("=" * 72)
PY
wait -n "${pids[@]}"
