#!/usr/bin/env bash
# Create .venv (if missing) and install requirements.txt into it, plus any extra pip arguments:
#   bash scripts/install.sh            # what train.py and test.py need
#   bash scripts/install.sh pytest     # and the test runner
#   bash scripts/install.sh wandb tensorboard   # and the optional trackers (train.py --use_wandb, --tensorboard)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
pip=(.venv/bin/pip install --quiet --disable-pip-version-check)
# visdom 0.2.4 (the last release for Python < 3.12) is an sdist whose build imports pkg_resources,
# which setuptools 81 dropped: build it against an older setuptools in the venv itself
"${pip[@]}" 'setuptools<81' wheel
"${pip[@]}" --no-build-isolation 'setuptools<81' -r requirements.txt "$@"
# visdom's page needs JavaScript and CSS that `python -m visdom.server` fetches from CDNs at every start
# (and crashes offline): fetch them once, now, so that `python -m util.dashboard` never needs the internet
.venv/bin/python -m util.visdom_assets
