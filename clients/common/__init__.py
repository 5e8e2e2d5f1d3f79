"""Code shared by the app, mini-program and counter reference clients.

- :mod:`.http`      the network edge: one request in, one response out (injectable in tests)
- :mod:`.errors`    :class:`ClientError`, the one error type the clients show (as the portal's)
- :mod:`.provider`  discovery, JWKS, token endpoint and UserInfo of the 一网通办 IdP
- :mod:`.settings`  frozen settings from defaults, ``<PREFIX>_*`` variables, a JSON file, flags
- :mod:`.cli`       one-line errors, exit codes and ``--json`` output of the command-line clients
- :mod:`.access_tokens` JWT access tokens (RFC 9068 §4), on the steps of the ID-token checks

ID tokens are checked by :mod:`clients.website.tokens` (python-jose, JWKS cache).
"""
