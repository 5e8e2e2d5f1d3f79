"""Every page string has a Chinese translation (the default language), placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "idp" / "web" / "translations"


def _catalog(path: Path) -> dict[str, str]:
    """msgid → translation; a plural entry is keyed by its singular and joins its forms."""
    out = {}
    with path.open("rb") as fh:
        for m in read_po(fh):
            if not m.id:
                continue
            key = m.id[0] if isinstance(m.id, tuple) else m.id
            value = " | ".join(m.string) if isinstance(m.string, tuple) else m.string
            out[key] = value if all(m.string) or not isinstance(m.string, tuple) else ""
    return out


def test_every_message_is_translated_to_chinese():
    template = _catalog(TRANSLATIONS / "messages.pot")
    zh = _catalog(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po")
    assert len(template) > 50, "messages.pot looks empty"
    missing = [k for k in template if not zh.get(k)]
    assert missing == [], f"untranslated: {missing}"
    for key, value in zh.items():
        assert set(re.findall(r"%\(\w+\)\w", key)) == set(re.findall(r"%\(\w+\)\w", value)), key


def test_catalogue_has_no_stale_entries():
    template = _catalog(TRANSLATIONS / "messages.pot")
    zh = _catalog(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po")
    assert set(zh) <= set(template), f"stale: {set(zh) - set(template)}"
