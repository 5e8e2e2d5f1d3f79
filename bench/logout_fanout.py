"""Back-channel logout fan-out latency against a real `idp serve` (SQLite + embedded store).

For each round: one citizen signs in to N portals in one browser (SSO), then signs out at the
first with RP-initiated logout. Prints the time `/end_session` takes to answer, and the time from
that answer until every portal's loopback listener has received its logout token (the delivery
thread works in the background). Usage: `.venv/bin/python -m bench.logout_fanout [ROUNDS] [N]`.
No peer comparison yet: node-oidc-provider's back-channel logout is the harness's job (issue 7).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.e2e.oidc_client import RelyingParty
from tests.e2e.useragent import UserAgent
from tests.fixtures.listener import LogoutListener
from tests.fixtures.server import launch

BYE = "https://rp.example.test/bye"


def main(rounds: int = 20, portals: int = 4) -> None:
    with tempfile.TemporaryDirectory() as root:
        server = launch(Path(root), "embedded", {"IDP_PASSWORDS_TIME_COST": "1",
                                                  "IDP_PASSWORDS_MEMORY_COST": "8192"})
        listeners = [LogoutListener().start() for _ in range(portals)]
        try:
            rps = [RelyingParty.register(server, f"bench-{uuid.uuid4().hex[:6]}",
                                         "--backchannel-logout-uri", ls.uri,
                                         "--post-logout-redirect-uri", BYE)
                   for ls in listeners]
            who = server.demo["citizens"][0]
            citizen = {"username": who["phone"], "password": who["password"]}
            answer, arrival = [], []
            for round_no in range(rounds):
                agent = UserAgent(server.url)
                logins = [rp.login(agent, citizen if i == 0 else None, "openid")
                          for i, rp in enumerate(rps)]
                start = time.perf_counter()
                resp = agent.http.get(rps[0].endpoint("end_session"), allow_redirects=False,
                                      params={"id_token_hint": logins[0].tokens["id_token"],
                                              "post_logout_redirect_uri": BYE}, timeout=20)
                answered = time.perf_counter()
                if resp.status_code != 302:
                    raise SystemExit(f"end_session answered {resp.status_code}: {resp.text}")
                done = max(listener.wait_for(round_no + 1)[-1].at for listener in listeners)
                answer.append((answered - start) * 1000)
                arrival.append((done - answered) * 1000)
        finally:
            for listener in listeners:
                listener.stop()
            server.stop()

    def show(name: str, values: list[float]) -> None:
        values = sorted(values)
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(f"{name:<44} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms")

    print(f"back-channel logout, {portals} portals per session, {rounds} rounds, "
          f"2 workers, SQLite + embedded store")
    show("/end_session answer (revoke + queue)", answer)
    show(f"answer -> all {portals} logout tokens received", arrival)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
