#!/usr/bin/env bash
# Install everything (into .venv) and run the test suite on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
# wandb and tensorboard are optional for train.py (--use_wandb, --tensorboard), needed by tests/test_trackers.py
bash scripts/install.sh pytest wandb tensorboard
.venv/bin/python -m pytest -q tests "$@"
