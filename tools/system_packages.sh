#!/usr/bin/env bash
# System packages the test suite drives for real (Debian): an X server for the preview window
# test and ImageMagick's `import` for its screenshot. Installs only what is missing.
set -euo pipefail
need=()
command -v Xvfb >/dev/null || need+=(xvfb)
command -v import >/dev/null || need+=(imagemagick)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then echo "system_packages.sh: not root; skipping ${need[*]}" >&2; exit 0; fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
