"""Operations: Prometheus metrics, structured logs and request ids (issue 7, "Operations").

* :mod:`idp.observability.metrics` — the metric definitions, the one table mapping audit tags to
  sign-in outcomes, and the exposition (one process, or every worker of one ``idp serve``).
* :mod:`idp.observability.access` — who may read ``/metrics`` (address allow-list, bearer token).
* :mod:`idp.observability.metrics_dir` — the private directory the workers of one ``idp serve``
  share their metric values through.
* :mod:`idp.observability.logs` — JSON or text log lines, the request id in every record, ID
  numbers masked.
* :mod:`idp.observability.web` — the Flask adapter: request ids, timing, the access log, and the
  wiring of the listeners on the audit trail and the token service.

Only :mod:`~idp.observability.web` imports Flask; nothing here is imported by a domain service
(they know nothing of Prometheus: the metrics listen to the audit trail and the token service).
Importing this package imports nothing: ``idp serve`` must set up the multiprocess directory
before ``prometheus_client`` is first imported (:mod:`idp.cli.serve`).
"""
