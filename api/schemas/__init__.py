"""Request and response bodies of the API, one module per resource (kept out of the route
modules so that no route imports another). Import from the modules themselves."""

from __future__ import annotations

__all__: list[str] = []
