#!/usr/bin/env bash
# Build the wheel and the sdist, install the wheel (not editable) in a clean venv, and run the
# demo from it: what a user gets from `pip install 'realtime-faceswap[cpu]'` or pipx.
#
#   tools/wheel_smoke.sh [PYTHON]     # default python3; dist/ holds the built files afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -rf dist
"$PY" -m venv "$WORK/build" && "$WORK/build/bin/pip" install -q build
"$WORK/build/bin/python" -m build --sdist --wheel --outdir dist . >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log"; exit 1; }
ls dist/realtime_faceswap-*.whl dist/realtime_faceswap-*.tar.gz
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$(ls dist/realtime_faceswap-*.whl)[cpu]"
cd "$WORK"  # not the checkout: the import must come from the installed wheel
"$WORK/venv/bin/python" -c "import realtime, sys; assert '/site-packages/' in realtime.__file__, realtime.__file__"
"$WORK/venv/bin/realtime" --demo --sink file --output demo.mp4 --duration 3 --quiet
"$WORK/venv/bin/python" -c "
import av
with av.open('demo.mp4') as f:
    n = sum(1 for _ in f.decode(video=0))
assert n >= 30, n
print(f'wheel install ok: demo.mp4 has {n} frames')
"
