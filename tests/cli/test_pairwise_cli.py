"""``idp clients create --subject-type pairwise [--sector-identifier-uri URI]`` over a real
subprocess: JSON with the sector, or one error line, exit 2 and nothing written."""

from __future__ import annotations

import json

from idp.store.models import Client
from tests.cli.test_cli import assert_one_line_error, count
from tests.clients.test_sectors import sector_server  # noqa: F401 — fixture


def test_pairwise_client_from_the_cli(run, sector_server):  # noqa: F811
    data = json.loads(run("clients", "create", "--name", "税务门户", "--channel", "website",
                          "--redirect-uri", "https://tax.example.gov.cn/cb",
                          "--subject-type", "pairwise", "--json").stdout)
    assert data["subject_type"] == "pairwise" and data["sector"] == "tax.example.gov.cn"
    public = json.loads(run("clients", "create", "--name", "Portal", "--channel", "website",
                            "--redirect-uri", "https://a.example.gov.cn/cb", "--json").stdout)
    assert public["subject_type"] == "public" and "sector" not in public

    redirects = ["https://tax.example.gov.cn/cb", "https://m.tax.example.gov.cn/cb"]
    uri = sector_server.serve("/sector.json", redirects)
    args = ["clients", "create", "--name", "税务", "--channel", "website",
            "--redirect-uri", redirects[0], "--redirect-uri", redirects[1],
            "--subject-type", "pairwise"]
    assert_one_line_error(run(*args), "not all on one host")
    short = sector_server.serve("/short.json", redirects[:1])
    assert_one_line_error(run(*args, "--sector-identifier-uri", short),
                          "does not list the redirect URI(s) https://m.tax.example.gov.cn/cb")
    assert count(run.db_url, Client) == 2
    data = json.loads(run(*args, "--sector-identifier-uri", uri, "--json").stdout)
    assert data["sector"] == "127.0.0.1" and count(run.db_url, Client) == 3
