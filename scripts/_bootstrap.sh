# Sourced by scripts/demo and scripts/test: makes .venv with exactly the pinned dependencies, the
# product (conversion-sync) and the sandbox org (sandbox-org, in sandbox/), both editable.
# Idempotent and quick when nothing changed (a stamp of the lock file's hash).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${CONVERSION_SYNC_PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "conversion-sync needs Python 3.11 (found $("$PY" --version 2>&1)); set CONVERSION_SYNC_PYTHON to a python3.11." >&2
  exit 2
}
stamp_want="$(cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" "$ROOT/sandbox/pyproject.toml" | sha256sum | cut -d' ' -f1)"
stamp_file="$VENV/.conversion-sync-installed"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_want" ]; then
  echo "==> installing Python dependencies into .venv (uv, pinned by requirements.lock)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q "uv==0.13.9"
  # --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE=1, so without .pyc files
  # every `import dagster` costs twice as long.
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --compile-bytecode -r "$ROOT/requirements.lock"
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e "$ROOT" -e "$ROOT/sandbox"
  echo "$stamp_want" > "$stamp_file"
fi
export PATH="$VENV/bin:$PATH"
