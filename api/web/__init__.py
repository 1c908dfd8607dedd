"""The staff web viewer: server-rendered pages (Jinja2), plain JavaScript, Korean and English.

Templates in ``templates/``, scripts and styles in ``static/`` (served by ``api.routes.pages``,
no CDN, no build step), one translation table per language in ``i18n/<lang>.json``.
``api.web.pages`` holds what every page router shares: ``page_guard``, ``LangDep``, ``render``.
"""

from api.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, choose_language, translations
from api.web.render import STATIC_DIR, TEMPLATES_DIR, templates

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "choose_language",
    "templates",
    "translations",
]
