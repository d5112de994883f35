#!/usr/bin/env bash
# Make (or reuse) the Triton test server's venv from tools/triton-server-requirements.txt.
# Idempotent: a venv whose stamp matches the requirements file is left as it is.
# Prints the venv's path. Python: $TRITON_PYTHON, else pyenv's 3.12.x, else python3.12.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
req="$root/tools/triton-server-requirements.txt"
venv="${TRITON_VENV:-$root/.triton-venv}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$venv"
  exit 0
fi
py="${TRITON_PYTHON:-}"
if [[ -z "$py" ]] && command -v pyenv >/dev/null 2>&1; then
  v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -n1 || true)"
  [[ -n "$v" ]] && py="$(pyenv root)/versions/$v/bin/python3.12"
fi
[[ -z "$py" ]] && py="$(command -v python3.12 || true)"
if [[ -z "$py" || ! -x "$py" ]]; then
  echo "triton_server_venv: no Python 3.12 found (set TRITON_PYTHON)" >&2
  exit 1
fi
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip >/dev/null
"$venv/bin/pip" install -q -r "$req"
echo "$want" > "$stamp"
echo "$venv"
