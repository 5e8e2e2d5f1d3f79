"""The directory where the workers of one ``idp serve`` share their metric values.

``prometheus_client``'s multiprocess mode keeps each process's values in memory-mapped files
(``counter_<pid>.db``, ``histogram_<pid>.db`` …) in one directory; a scrape of any worker adds
them all up. The directory must start empty for each run (stale files of an earlier run would
be added in) and be private (anyone who can write it can forge the numbers):

* ``[metrics] dir`` empty (the default): a fresh directory, 0700, in the system temporary
  directory, removed when the server stops;
* set: created 0700 if missing; refused unless it is ours and private and holds nothing but
  metric files; those are deleted.

No ``prometheus_client`` import here: ``idp serve`` prepares the directory before the library is
first imported (:mod:`idp.cli.serve`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from idp.errors import ConfigError

METRIC_FILE = re.compile(r"(counter|gauge_[a-z]+|histogram|summary)_\d+\.db")


@dataclass(frozen=True)
class MetricsDir:
    path: Path
    owned: bool  # made for this run: removed by close()

    @classmethod
    def prepare(cls, configured: str = "") -> MetricsDir:
        if not configured:
            return cls(Path(tempfile.mkdtemp(prefix="idp-metrics-")), owned=True)
        path = Path(configured).resolve()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
                or info.st_mode & 0o077:
            raise ConfigError(f"metrics.dir {path} must be a directory of this user with mode "
                              "0700 (whoever can write it can forge the metrics)")
        entries = list(path.iterdir())
        strangers = [p.name for p in entries if not METRIC_FILE.fullmatch(p.name)]
        if strangers:
            raise ConfigError(f"metrics.dir {path} holds other files ({strangers[0]} …): give "
                              "the metrics a directory of their own")
        for entry in entries:
            entry.unlink()
        return cls(path, owned=False)

    def close(self) -> None:
        """Remove the directory if this run made it."""
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
