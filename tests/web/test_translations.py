"""Every page string has a Chinese translation (the default language)."""

from __future__ import annotations

import re
from pathlib import Path

TRANSLATIONS = Path(__file__).resolve().parents[2] / "idp" / "web" / "translations"


def _entries(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    pairs = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', text, re.M)
    return {k: v for k, v in pairs if k}


def test_every_message_is_translated_to_chinese():
    template = _entries(TRANSLATIONS / "messages.pot")
    zh = _entries(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po")
    assert template, "messages.pot is empty"
    missing = [k for k in template if not zh.get(k)]
    assert missing == [], f"untranslated: {missing}"
    for key, value in zh.items():
        assert set(re.findall(r"%\(\w+\)\w", key)) == set(re.findall(r"%\(\w+\)\w", value)), key
