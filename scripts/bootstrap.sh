#!/usr/bin/env bash
# Create .venv from a Python 3.10 interpreter and install the locked dependency set.
# Lava (lava-nc 0.10.0, lava-dl 0.6.0) requires Python >=3.10,<3.11.
# Interpreter: $PYTHON if set, else python3.10 on PATH, else a pyenv-installed 3.10.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

is_py310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.10 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.10*/bin/python3.10 \
           "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    [ -n "$c" ] || continue
    if is_py310 "$c"; then command -v "$c" || echo "$c"; return 0; fi
  done
  return 1
}

PY=$(find_python) || {
  echo "error: no Python 3.10 interpreter found (Lava needs >=3.10,<3.11)." >&2
  echo "       set PYTHON=/path/to/python3.10 or install one (e.g. pyenv install 3.10)." >&2
  exit 1
}
echo "bootstrap: using $PY ($("$PY" --version 2>&1))"

if [ ! -x "$VENV/bin/python" ] || ! is_py310 "$VENV/bin/python"; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

if "$VENV/bin/python" -m pip install --quiet "uv>=0.4" 2>/dev/null; then
  echo "bootstrap: installing requirements.lock with uv"
  "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" -r requirements.lock
  "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" --no-deps -e .
else
  echo "bootstrap: uv unavailable, falling back to pip"
  "$VENV/bin/python" -m pip install -r requirements.lock
  "$VENV/bin/python" -m pip install --no-deps -e .
fi
echo "bootstrap: done"
