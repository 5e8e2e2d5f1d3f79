"""The directory the workers of one ``idp serve`` share their metric values through: fresh,
private, emptied at start, removed when the run made it — and ``prometheus_client`` is not
imported before ``idp serve`` has set it up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from idp.errors import ConfigError
from idp.observability.metrics_dir import MetricsDir


def test_by_default_a_fresh_private_directory_per_run_removed_at_close():
    first, second = MetricsDir.prepare(""), MetricsDir.prepare("")
    try:
        assert first.path != second.path and first.owned
        assert stat.S_IMODE(first.path.stat().st_mode) == 0o700
        assert list(first.path.iterdir()) == []
    finally:
        first.close()
        second.close()
    assert not first.path.exists() and not second.path.exists()


def test_a_configured_directory_is_made_private_and_emptied_of_old_metric_files(tmp_path):
    configured = tmp_path / "metrics"
    made = MetricsDir.prepare(str(configured))
    assert stat.S_IMODE(configured.stat().st_mode) == 0o700 and not made.owned
    for name in ("counter_123.db", "histogram_123.db", "gauge_livesum_9.db"):
        (configured / name).write_bytes(b"stale")
    again = MetricsDir.prepare(str(configured))
    assert list(again.path.iterdir()) == []
    again.close()
    assert configured.exists()  # not ours to remove


def test_a_shared_or_foreign_directory_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103 — group-readable on purpose
    with pytest.raises(ConfigError, match="mode 0700"):
        MetricsDir.prepare(str(shared))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="other files"):
        MetricsDir.prepare(str(private))
    assert (private / "notes.txt").read_text() == "keep me"


def test_the_cli_does_not_import_prometheus_client_before_serve_sets_it_up():
    """prometheus_client picks its multiprocess mode when first imported: importing the CLI
    (as `idp serve` does, before it makes the directory) must not import it."""
    code = "import sys, idp.cli.main; print('prometheus_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.strip() == "False"
