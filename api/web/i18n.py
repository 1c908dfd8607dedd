"""Translation tables and the choice of language per request.

A language's table is ``i18n/<lang>.json`` plus any ``i18n/<lang>.<part>.json`` (one per part
of the web UI: ``ko.desk.json`` for the request desk, ...), merged; a key defined twice is an
error, so two parts never silently shadow each other.

Korean is the site's language and the default; English is chosen by ``?lang=en`` (then kept in
a cookie) or by the browser's Accept-Language. ``choose_language`` is pure.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "choose_language",
    "translations",
]

LANGUAGES: tuple[str, ...] = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "cctv_lang"
_DIR = Path(__file__).resolve().parent / "i18n"


@cache
def translations(language: str) -> dict[str, str]:
    """The table of ``language`` (key -> text with ``{name}`` placeholders)."""
    if language not in LANGUAGES:
        raise ValueError(f"no translation table for {language!r}")
    table: dict[str, str] = {}
    for path in [_DIR / f"{language}.json", *sorted(_DIR.glob(f"{language}.*.json"))]:
        part: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(table.keys() & part.keys())
        if twice:
            raise ValueError(f"{path.name} defines keys already defined: {', '.join(twice)}")
        table.update(part)
    return table


def _accepted(header: str) -> list[str]:
    """Primary language tags of an Accept-Language header, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: the explicit switch, then the remembered one, then the browser's."""
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return explicit
    for tag in _accepted(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
