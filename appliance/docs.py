"""Reference documentation generated from the code, so the README cannot drift from it.

``tests/test_docs.py`` fails when the README's configuration reference differs from
``config_reference()``; regenerate it with ``appliance config-reference --write README.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from appliance.settings import Settings

__all__ = ["BEGIN", "END", "config_reference", "replace_reference"]

BEGIN = "<!-- BEGIN config-reference (generated: appliance config-reference) -->"
END = "<!-- END config-reference -->"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (list, Union, UnionType):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"\b(typing|pathlib|appliance\.settings)\.", "", str(text))


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if hasattr(value, "value"):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    return f"`{value!r}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        sub = _model_of(field.annotation)
        key = f"{prefix}{name}"
        if sub is not None:
            is_list = get_origin(field.annotation) is list
            section = f"[[{key}]]" if is_list else f"[{key}]"
            doc = (field.description or (sub.__doc__ or "").strip().splitlines()[0]).replace(
                "|", "\\|"
            )
            rows.append(
                f"| `{section}` | section | {'required' if field.is_required() else ''} | {doc} |"
            )
            rows.extend(_rows(sub, f"{key}."))
            continue
        doc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {doc} |")
    return rows


def config_reference() -> str:
    """A Markdown table of every configuration key, its type, default and meaning."""
    head = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    return "\n".join([BEGIN, *head, *_rows(Settings, ""), END])


def replace_reference(readme: Path) -> bool:
    """Rewrite the generated block in ``readme``; True if it changed."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _m: config_reference(), text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False
