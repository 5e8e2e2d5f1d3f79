#!/usr/bin/env bash
# make run: migrate, seed demo data, start the IdP, the demo department portal, the mini-program
# backend, and the back-channel logout listeners of the app and the counter terminal.
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
MINI_PORT="${MINI_PORT:-5002}"
# Where the app and the counter terminal receive back-channel logout. seed-demo registers these
# defaults (http://127.0.0.1:5003|5004/backchannel-logout) as the demo clients' logout URIs.
APP_LISTEN_PORT="${APP_LISTEN_PORT:-5003}"
COUNTER_LISTEN_PORT="${COUNTER_LISTEN_PORT:-5004}"
# One small config file per reference client, from the seeded demo credentials (mode 0600).
$BIN/python - "$creds" "$IDP_DATA_DIR" "$PORTAL_PORT" "$MINI_PORT" <<'PY'
import json, os, sys
src, out, portal_port, mini_port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
demo = json.load(open(src))
clients = demo["clients"]

def write(name, cfg):
    fd = os.open(os.path.join(out, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(cfg, fh)

def creds(channel):
    return {"issuer": demo["issuer"], "client_id": clients[channel]["client_id"],
            "client_secret": clients[channel]["client_secret"]}

write("portal.json", {**creds("website"), "base_url": f"http://localhost:{portal_port}",
                      "port": int(portal_port)})
write("miniprogram.json", {**creds("miniprogram"), "port": int(mini_port)})
write("counter.json", {**creds("counter"), "state_file": os.path.join(out, "counter-state.json")})
PY

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/idp serve --host 127.0.0.1 --port "$IDP_PORT" --workers 2 &
pids+=($!)
$BIN/python -m clients.website --config "$IDP_DATA_DIR/portal.json" &
pids+=($!)
$BIN/python -m clients.miniprogram --config "$IDP_DATA_DIR/miniprogram.json" &
pids+=($!)
$BIN/python -m clients.app --issuer "$IDP_ISSUER" --state "$IDP_DATA_DIR/app.json" \
  listen --port "$APP_LISTEN_PORT" &
pids+=($!)
$BIN/python -m clients.counter --config "$IDP_DATA_DIR/counter.json" \
  listen --port "$COUNTER_LISTEN_PORT" &
pids+=($!)

for _ in $(seq 1 50); do
  $BIN/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$IDP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
$BIN/python - "$creds" "$IDP_PORT" "$PORTAL_PORT" "$MINI_PORT" "$IDP_DATA_DIR" \
  "$APP_LISTEN_PORT" "$COUNTER_LISTEN_PORT" <<'PY'
import json, sys
demo = json.load(open(sys.argv[1]))
idp, portal, mini, var = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
app_listen, counter_listen = sys.argv[6], sys.argv[7]
app = f".venv/bin/python -m clients.app --issuer http://localhost:{idp} --state {var}/app.json"
print()
print("=" * 78)
print(f" 一网通办 Unified Identity     IdP             http://localhost:{idp}")
print(f" 示例部门门户 website portal    open this →     http://localhost:{portal}")
print(f" 小程序后端 mini-program backend                http://localhost:{mini}")
print(f" 后台通道退出 logout listeners  app http://127.0.0.1:{app_listen}, "
      f"counter http://127.0.0.1:{counter_listen}")
staff = demo["staff"]
print(f" 安全管理控制台 staff console  http://localhost:{idp}/console — {staff['username']} / "
      f"{staff['password']}, code:")
print(f"   .venv/bin/python -c 'import pyotp; print(pyotp.TOTP(\"{staff['totp_secret']}\").now())'")
print(" Demo citizens (sign in with the ID number or the phone number):")
for c in demo["citizens"]:
    print(f"   {c['name']}  ID {c['id_number']}  phone {c['phone']}  password {c['password']}")
print(" One sign-in, four channels (in another terminal, from this directory):")
print(f"   1. website  open http://localhost:{portal} and sign in (the only password)")
print(f"   2. app      {app} login --open")
print("               (same browser: no password; without a desktop, open the URL it prints)")
print(f"   3. mini     {app} exchange --miniprogram http://localhost:{mini}")
print(f"   4. counter  .venv/bin/python -m clients.counter --config {var}/counter.json signin")
print(f"               then approve its user code: {app} approve-device XXXX-XXXX")
print("   5. logout   sign out at the portal (\"Sign out everywhere\") or at")
print(f"               http://localhost:{idp}/account/sessions → all four channels are signed out:")
print(f"               {app} status")
print(f"               .venv/bin/python -m clients.counter --config {var}/counter.json status")
print("               the portal shows signed-out on reload; the mini-program backend's")
print(f"               http://localhost:{mini}/healthz shows \"sessions\": 0")
print(f"   6. QR login open http://localhost:{idp}/login in another browser, then")
print(f"               {app} approve-qr <the QR's URL>")
print(f"   7. 2nd factor  open http://localhost:{idp}/account/security → 'Confirm it is")
print("               you' → 'Send a code to 138****8000': the code shows up in this")
print("               window (SMS to 138****8000: 【一网通办】验证码 123456，…);")
print("               enter it. Back there, set up the authenticator app: scan the QR")
print("               with any TOTP app, or without one (KEY: the key shown)")
print("      .venv/bin/python -c 'import pyotp; print(pyotp.TOTP(\"KEY\").now())'")
print("               and confirm. Or 'Add a passkey' (a browser with a platform")
print("               authenticator or a security key; WebAuthn needs")
print(f"               http://localhost:{idp}, not 127.0.0.1). Then the portal's")
print("               'Sign in at assurance level L2' → acr L2, amr pwd, sms (the")
print("               session is at L2 already); after signing out: the password,")
print("               then only the second factor → amr pwd, otp (or hwk)")
print("   8. ID number  on the portal press 'Sign in and share my ID number' → the")
print("               consent page shows the number masked and who receives it;")
print("               allow → the portal shows it (masked on the demo page)")
print("   9. L3 face  on the portal press 'Sign in at assurance level L3 (face)'")
print("               → the second factor first (below L2), then 'Start face")
print("               verification' → the development stand-in page /dev/face/…:")
print("               'The face matches' ('It does not match': refused, the session")
print("               stays at L2) → the portal shows acr L3, amr pwd, otp|sms, face")
holder = demo["citizens"][0]
print(f"  10. L4 counter  a clerk checked {holder['name']}'s ID card at the window:")
print(f"               .venv/bin/python -m clients.counter --config {var}/counter.json \\")
print(f"                 signin --id-card-number {holder['id_number']} --clerk-id 窗口07")
print(f"               approve in the app signed in as {holder['name']} (run step 2 again if")
print("               step 5 signed it out):")
print(f"               {app} approve-device XXXX-XXXX")
print("               the terminal shows the ID number only masked, then prints")
print("               acr L4 and amr ending in ipv")
print(" Ctrl-C stops everything.")
print("=" * 78)
PY
wait -n "${pids[@]}"
