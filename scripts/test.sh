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
exec .venv/bin/pytest "$@"
