#!/usr/bin/env bash
# The GPU check (docs/speed.md, "The GPU check"): one command, at most 8 minutes on one GPU, no network.
# Writes results/gpu_check/gpu_check.md and gpu_check.json; arguments go to scripts/gpu_check.py
# (e.g. --gpu_ids -1 --sizes 32 --ngf 8 --ndf 8 --no_compile for a tiny run on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
if [ -x .venv/bin/python ]; then python=.venv/bin/python; fi
# the script skips rows once its --budget_s (420 s) is spent; this stops a row that hangs past 8 minutes,
# and the files, rewritten after every row, keep what was measured
exec timeout 480 "$python" scripts/gpu_check.py "$@"
