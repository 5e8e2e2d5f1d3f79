import requests
from tests.e2e.useragent import UserAgent

def show(label, r):
    print("==", label, r.status_code, r.headers.get("Location"), r.headers.get("Content-Type"), r.text[:300].replace("\n"," ") if r.status_code!=302 else "")

def test_explore(idp_server, rp, citizen, agent):
    base = idp_server.url
    req = rp.auth_request()
    p = dict(req.params); p.pop("response_type")
    show("no response_type", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["response_type"]="token"
    show("rt token", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["request"]="eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    show("request", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["request_uri"]="https://rp.example.test/req.jwt"
    show("request_uri", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["redirect_uri"]="https://evil.example/cb"
    show("bad redirect", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["redirect_uri"]=rp.redirect_uri+"/"
    show("slash redirect", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p.pop("redirect_uri")
    show("no redirect", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["client_id"]="nope"
    show("bad client", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["prompt"]="none"
    show("prompt none", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["code_challenge_method"]="plain"
    show("plain", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["scope"]="profile"
    show("no openid", requests.get(base+"/authorize", params=p, allow_redirects=False))
    p = dict(req.params); p["max_age"]="abc"
    show("max_age abc", requests.get(base+"/authorize", params=p, allow_redirects=False))
    app = idp_server.demo["clients"]["app"]
    p = {"response_type":"code","client_id":app["client_id"],"redirect_uri":"http://127.0.0.1/callback","scope":"openid","state":"s1"}
    show("public no pkce", requests.get(base+"/authorize", params=p, allow_redirects=False))
    show("POST authorize", requests.post(base+"/authorize", data=req.params, allow_redirects=False))
    # token endpoint
    tok = rp.endpoint("token")
    show("tok wrong secret", requests.post(tok, data={"grant_type":"authorization_code","code":"x","redirect_uri":rp.redirect_uri}, auth=(rp.client_id,"wrong")))
    print(requests.post(tok, data={"grant_type":"authorization_code","code":"x"}, auth=(rp.client_id,"wrong")).headers)
    show("tok unknown client", requests.post(tok, data={"grant_type":"authorization_code","code":"x"}, auth=("nobody","x")))
    show("tok no grant", requests.post(tok, data={"code":"x"}, auth=(rp.client_id,rp.client_secret)))
    show("tok bad grant", requests.post(tok, data={"grant_type":"password","username":"a","password":"b"}, auth=(rp.client_id,rp.client_secret)))
    show("tok no code", requests.post(tok, data={"grant_type":"authorization_code","redirect_uri":rp.redirect_uri}, auth=(rp.client_id,rp.client_secret)))
    show("tok bad code", requests.post(tok, data={"grant_type":"authorization_code","code":"zzz","redirect_uri":rp.redirect_uri}, auth=(rp.client_id,rp.client_secret)))
    show("tok malformed json", requests.post(tok, data='{"grant_type":"x"}', headers={"Content-Type":"application/json"}, auth=(rp.client_id,rp.client_secret)))
    show("tok GET", requests.get(tok))
    show("tok garbage", requests.post(tok, data=b"\xff\xfe%%%=&&", headers={"Content-Type":"application/x-www-form-urlencoded"}, auth=(rp.client_id,rp.client_secret)))
    # happy then ui
    r = agent.authorize(req.params, username=citizen["username"], password=citizen["password"])
    code = rp.expect_code(req, r)
    show("tok redirect mismatch", rp.token_request(rp.code_grant(code, req, redirect_uri="https://rp.example.test/other")))
    show("tok after mismatch", rp.token_request(rp.code_grant(code, req)))
    for pg in agent.pages: 
        pass
    print({k:v for k,v in agent.pages[0].headers.items()})
