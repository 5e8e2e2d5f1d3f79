"""A short, human description of a browser from its User-Agent header ("Chrome 126 · Windows").

Shown to the citizen where they decide about a sign-in on another device (the QR approval on the
phone), so they can tell their own computer from someone else's. Best effort: the header is the
requester's text, so the result only ever contains names from the tables below and a version
number, never the raw header.
"""

from __future__ import annotations

import re

# Order matters: many browsers also name the engines they are compatible with.
_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("QQBrowser", "QQ Browser"),
    ("UCBrowser", "UC Browser"),
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Firefox", "Firefox"),
    ("HeadlessChrome", "Chrome"),
    ("Chromium", "Chromium"),
    ("Chrome", "Chrome"),
    ("Version", "Safari"),  # Safari names its version as Version/17.4 … Safari/605
)
_SYSTEMS = (
    ("HarmonyOS", "HarmonyOS"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
UNKNOWN = "unknown browser"


def describe(user_agent: str | None) -> str:
    ua = (user_agent or "")[:500]
    browser = None
    for token, name in _BROWSERS:
        found = re.search(rf"\b{re.escape(token)}/(\d{{1,4}})", ua)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    parts = [p for p in (browser, system) if p]
    return " · ".join(parts) if parts else UNKNOWN
