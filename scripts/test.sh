#!/usr/bin/env bash
# Lint, type-check and run every test. Root runs the integration and interop tests too.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check dockyard tests benchmarks
.venv/bin/mypy
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
