def test_explore(idp_server, rp, citizen, agent, register):
    base = rp.server.url
    r = agent.login(citizen["username"], citizen["password"])
    print(r.status_code, r.headers.get("Location"), r.text[:3000])
    consent_rp = register(skip_consent=False)
    r = agent.http.get(f"{base}/authorize", params=consent_rp.auth_request().params, allow_redirects=False, timeout=10)
    print(r.status_code, r.headers.get("Location"))
