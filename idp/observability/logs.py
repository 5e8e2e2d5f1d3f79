"""Structured log lines with request ids, and nothing secret in them.

One record per line on stderr, in one of two formats (``[logging] format``, ``idp serve
--log-format``):

* ``json`` — one JSON object per line: ``ts`` (UTC, ISO 8601, milliseconds), ``level``,
  ``logger``, ``message``, ``request_id`` (null outside a request), ``pid``; access lines
  (logger ``idp.access``) add :data:`ACCESS_FIELDS`; a record with an exception adds ``exc``.
* ``text`` — ``[ts] [pid] [LEVEL] logger: message [request_id=…]`` (the id in a request only).

The request id of the request being served lives in :data:`REQUEST_ID` (a context variable
the web layer sets, :mod:`idp.observability.web`); :class:`RequestIdFilter` copies it onto every
record. Both formatters mask anything shaped like a citizen ID number (the audit trail's
:func:`~idp.audit.chain.scrub`) as a last line of defence: what is logged is chosen with care
upstream (no query strings, cookies, bodies, tokens or codes).
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from idp.audit.chain import scrub

REQUEST_ID: ContextVar[str | None] = ContextVar("idp_request_id", default=None)
# A caller's X-Request-Id is kept only when it is this safe and holds no run of 15+ digits
# (a citizen ID number); anything else is replaced by a fresh UUID, whose digit runs are
# at most 12 long.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ID_NUMBER_RUN = re.compile(r"\d{15}")
ACCESS_FIELDS = ("method", "path", "endpoint", "status", "duration_ms", "bytes", "remote_addr",
                 "client_id")
FORMATS = ("json", "text")


def request_id_from(header: str | None) -> str:
    """The caller's request id when it is safe to log and echo, else a fresh one."""
    if header and SAFE_REQUEST_ID.fullmatch(header) and not _ID_NUMBER_RUN.search(header):
        return header
    return str(uuid.uuid4())


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, ID numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": scrub(getattr(record, "request_id", None) or REQUEST_ID.get()),
            "pid": record.process,
        }
        for name in ACCESS_FIELDS:
            if name in record.__dict__:
                body[name] = scrub(record.__dict__[name])
        if record.exc_info:
            body["exc"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            body["exc"] = scrub(record.exc_text)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    """One readable line per record, ending ``[request_id=…]`` in a request (tracebacks below
    it), ID numbers masked."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 — logging's name
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        return f"{line} [request_id={request_id}]" if request_id else line

    def format(self, record: logging.LogRecord) -> str:
        return str(scrub(super().format(record)))


def logging_config(fmt: str, *, access_log: bool = True) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the IdP's loggers (``idp.*``) and the server's
    (granian's ``_granian``; its own access log stays off: the app writes one with the request
    id and endpoint). ``idp serve`` hands it to granian, which applies it in every worker."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, got {fmt!r}")
    formatter = "JsonFormatter" if fmt == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"idp": {"()": f"{__name__}.{formatter}"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "idp", "filters": ["request_id"]}},
        "loggers": {
            "idp": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "idp.access": {"level": "INFO" if access_log else "WARNING"},
            "_granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure(fmt: str, *, access_log: bool = True) -> None:
    """Apply :func:`logging_config` to this process."""
    logging.config.dictConfig(logging_config(fmt, access_log=access_log))


def configured() -> bool:
    """Whether this process's ``idp`` logger writes anywhere yet."""
    return bool(logging.getLogger("idp").handlers)
