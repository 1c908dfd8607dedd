"""Docs that the tests keep honest."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
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


# Test references in the docs: `tests/x/test_y.py::test_z`, `test_y.py::test_z` (the `::` may end
# a line), `test_y.py`, `tests/x/`, and a bare `test_z` or `test_z...` (a prefix).
_PATH_REF = re.compile(r"(?<![\w/])(tests/[\w/]*\w(?:\.py)?/?|test_\w+\.py)(?:::\s*(test_\w+))?")
_NAME_REF = re.compile(r"(?<![\w/.:])(test_\w+?)(\.\.\.|…)?(?![\w.(])")
_DOCS = [REPO / "ARCHITECTURE.md", *sorted((REPO / "design").glob("*.md"))]


def _test_functions() -> dict[str, set[str]]:
    """Every test function name (top level or in a class) by test module path."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
        }
        found[path.relative_to(REPO).as_posix()] = names
    return found


def _missing_references(text: str, tests: dict[str, set[str]]) -> list[str]:
    """The test references in ``text`` that name no existing test module, directory or test."""
    missing = []
    everything = set().union(*tests.values())
    for match in _PATH_REF.finditer(text):
        path, name = match.group(1), match.group(2)
        if path.startswith("tests/"):
            if not (REPO / path).exists():
                missing.append(path)
                continue
            modules = [p for p in tests if p == path]
            if not modules:  # a directory, or a helper module such as a writer
                continue
        else:
            modules = [p for p in tests if p.endswith("/" + path)]
        if path.endswith(".py") and not modules:
            missing.append(path)
        elif name and not any(name in tests[m] for m in modules):
            missing.append(f"{path}::{name}")
    bare = _PATH_REF.sub(" ", text)
    for match in _NAME_REF.finditer(bare):
        name, prefix = match.group(1), match.group(2)
        if prefix and not any(n.startswith(name) for n in everything):
            missing.append(name + prefix)
        elif not prefix and name not in everything:
            missing.append(name)
    return missing


@pytest.mark.parametrize("doc", _DOCS, ids=lambda p: p.name)
def test_docs_name_only_tests_that_exist(doc: Path) -> None:
    missing = _missing_references(doc.read_text(encoding="utf-8"), _test_functions())
    assert not missing, f"{doc.relative_to(REPO)} names tests that do not exist: {missing}"


def _invariants() -> list[str]:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("\n## Invariants\n", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n(?=\d+\. )", section.strip())
    return [item.strip() for item in items if re.match(r"\d+\. ", item)]


def test_every_invariant_names_its_module_and_its_test() -> None:
    invariants = _invariants()
    assert len(invariants) >= 8, invariants
    tests = _test_functions()
    for item in invariants:
        number = item.split(".", 1)[0]
        spans = re.findall(r"`([^`]+)`", item)
        modules = [s for s in spans if re.fullmatch(r"(appliance|api|recorder)/[\w/]+(\.py|/)", s)]
        assert modules, f"invariant {number} names no module (a backticked path)"
        for module in modules:
            assert (REPO / module).exists(), f"invariant {number}: {module} does not exist"
        refs = [s for s in spans if re.fullmatch(r"tests/[\w/]+\.py::test_\w+", s)]
        assert refs, f"invariant {number} names no test (`tests/...py::test_name`)"
        missing = _missing_references(item, tests)
        assert not missing, f"invariant {number} names tests that do not exist: {missing}"
