#!/usr/bin/env bash
# Install everything (into .venv) and run the test suite on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh pytest
.venv/bin/python -m pytest -q tests "$@"
