"""Request and response bodies of the API, one module per resource."""

from __future__ import annotations

__all__: list[str] = []
