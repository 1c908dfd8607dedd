#!/usr/bin/env bash
# The whole test run: setup, lint, format check, strict typing, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PATHS=(appliance api recorder tests bench)
echo "== ruff check";         .venv/bin/ruff check "${PATHS[@]}"
echo "== ruff format --check"; .venv/bin/ruff format --check "${PATHS[@]}"
echo "== mypy --strict";      .venv/bin/mypy --strict "${PATHS[@]}"
echo "== pytest"
# Two workers (CI has 2 cores; many tests wait on real-time cameras), whole modules each.
exec .venv/bin/pytest -n 2 --dist loadfile "$@"
