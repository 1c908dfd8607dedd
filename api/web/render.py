"""The Jinja2 environment of the pages (autoescaped) and where templates and assets live."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi.templating import Jinja2Templates

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "templates"]

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"

# Every .html template is autoescaped; an undefined name is an error, not an empty string.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
)
