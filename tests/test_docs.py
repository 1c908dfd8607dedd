"""Docs that the tests keep honest."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from appliance.cli import app
from appliance.docs import BEGIN, END, config_reference

REPO = Path(__file__).resolve().parents[1]


def test_readme_config_reference_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert block == config_reference(), (
        "README's configuration reference is stale: run `appliance config-reference --write "
        "README.md`"
    )


def test_readme_lists_every_top_level_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = get_command(app)
    names = sorted(getattr(command, "commands", {}))
    documented = set(re.findall(r"`appliance ([a-z-]+)", readme))
    missing = [name for name in names if name not in documented]
    assert not missing, f"README does not document: {missing}"


def test_makefile_has_the_two_commands() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("make test")
