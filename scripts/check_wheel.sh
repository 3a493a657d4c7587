#!/usr/bin/env bash
# The package on its own: build the wheel, install it (with the embedded extra) into a fresh
# virtual environment, and review the sample note from a folder outside the repository on the
# replay backend; only `reviewer` is importable there. Then the layering contracts (import-linter)
# on the installed package, where the repository's folders are mapped into `reviewer`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip wheel -q --no-deps -w "$work/dist" .
wheel="$(ls "$work"/dist/reviewer-*.whl)"
python3 -m venv "$work/venv"
# llama-cpp-python comes from pip's cache of the wheel built for the test environment.
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" "$work/venv/bin/pip" install -q "${wheel}[embedded]" import-linter

mkdir "$work/notes" "$work/run"
cp samples/sample-note.txt "$work/notes/"
cd "$work/run"
export REVIEWER_BACKEND=replay REVIEWER_RECORDINGS_DIR="$repo/tests/recordings"
export REVIEWER_DATABASE_URL="sqlite:///$work/run/reviewer.db"
report="$("$work/venv/bin/reviewer" review "$work/notes/sample-note.txt")"
grep -q "97530" <<<"$report"
report="$("$work/venv/bin/python" -m reviewer review --json "$work/notes/sample-note.txt")"
"$work/venv/bin/python" -c 'import json, sys; r = json.loads(sys.argv[1]); assert r["status"] == "ok", r.get("error")' "$report"
"$work/venv/bin/reviewer" eval dev --out "$work/run/dev.json" >/dev/null 2>&1  # the corpora ship in the wheel
# The app's pages ship in the wheel: the installed `reviewer ui` serves them.
"$work/venv/bin/reviewer" ui --port 8597 >"$work/ui.log" 2>&1 &
ui_pid=$!
for _ in $(seq 1 60); do
  if curl -fsS http://127.0.0.1:8597/_stcore/health >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -fsS http://127.0.0.1:8597/_stcore/health >/dev/null || { cat "$work/ui.log" >&2; exit 1; }
kill "$ui_pid"
wait "$ui_pid" 2>/dev/null || true
for name in ui evals prompts; do
  if "$work/venv/bin/python" -c "import $name" 2>/dev/null; then
    echo "check_wheel: the wheel installs a top-level '$name' package" >&2
    exit 1
  fi
done
"$work/venv/bin/lint-imports" "$repo/pyproject.toml"
echo "check_wheel: wheel installs, reviews from outside the repository, layering holds"
