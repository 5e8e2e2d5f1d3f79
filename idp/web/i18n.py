"""Page language: ``ui_locales`` (OIDC Core §3.1.2.1) or ``?lang=``, remembered in the session,
then Accept-Language, then the configured default (zh_CN)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request, session
from flask_babel import get_locale

SUPPORTED = ("zh_CN", "en")


def _match(tag: str) -> str | None:
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    requested = request.args.get("lang") or request.args.get("ui_locales") or ""
    for tag in requested.split():
        found = _match(tag)
        if found:
            session["locale"] = found
            return found
    remembered = session.get("locale")
    if remembered in SUPPORTED:
        return str(remembered)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best:
        return _match(best) or "zh_CN"
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))


def lang_url(lang: str) -> str:
    """The current page in another language (other query parameters kept)."""
    args = request.args.to_dict(flat=False)
    args.pop("ui_locales", None)
    args["lang"] = [lang]
    return request.path + "?" + urlencode(args, doseq=True)


def html_lang() -> str:
    """The page's ``lang`` attribute: ``zh-CN`` or ``en``."""
    locale = get_locale()
    return "zh-CN" if locale is not None and locale.language == "zh" else "en"
