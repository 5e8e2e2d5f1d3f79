"""Single-use authorization codes under real concurrency, over real HTTP (RFC 6749 §4.1.2).

Twenty-four token requests race to redeem one code at a running ``idp serve`` (two
worker processes): exactly one gets tokens, the rest get ``invalid_grant`` — and, because a
replay revokes what the code issued, the winner's access token is revoked too.
"""

from __future__ import annotations

import threading

import requests

from tests.e2e.useragent import UserAgent, pkce_pair

RACERS = 24


def test_concurrent_redemptions_of_one_code_exactly_one_wins(idp_server):
    client = idp_server.create_client("--name", "Race portal", "--channel", "website",
                                      "--redirect-uri", "https://race.example.test/cb",
                                      "--skip-consent")
    citizen = idp_server.demo["citizens"][0]
    for _round in range(3):
        verifier, challenge = pkce_pair()
        agent = UserAgent(idp_server.url)
        resp = agent.authorize({
            "response_type": "code", "client_id": client["client_id"],
            "redirect_uri": "https://race.example.test/cb", "scope": "openid profile",
            "state": "race", "code_challenge": challenge, "code_challenge_method": "S256",
        }, username=citizen["phone"], password=citizen["password"])
        assert resp.code
        barrier = threading.Barrier(RACERS)
        results: list[requests.Response] = []
        lock = threading.Lock()

        def redeem(code: str = resp.code, verifier: str = verifier,
                   barrier: threading.Barrier = barrier, lock: threading.Lock = lock,
                   results: list[requests.Response] = results) -> None:
            barrier.wait()
            answer = requests.post(f"{idp_server.url}/token", timeout=30, data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": "https://race.example.test/cb", "code_verifier": verifier,
            }, auth=(client["client_id"], client["client_secret"]))
            with lock:
                results.append(answer)

        threads = [threading.Thread(target=redeem) for _ in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [r for r in results if r.status_code == 200]
        losers = [r for r in results if r.status_code == 400]
        assert len(winners) == 1, [r.status_code for r in results]
        assert len(losers) == RACERS - 1
        assert {r.json()["error"] for r in losers} == {"invalid_grant"}
        # The replays revoked what the code issued (RFC 6749 §4.1.2).
        token = winners[0].json()["access_token"]
        info = requests.get(f"{idp_server.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
        assert info.status_code == 401
