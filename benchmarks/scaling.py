"""Publish the scaling figure: notes/s against queue workers, on the delayed fake endpoint.

    REVIEWER_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/scaling.py [--delay 0.15]

Starts 1, 2 and 4 worker processes (`procrastinate --app=reviewer.distributed.app worker`) in
turn, each on a fresh store with the same 200 notes, against the fake OpenAI-compatible endpoint
of the tests (every answer takes `--delay` seconds), until the whole batch is reviewed (or the
first `--window` notes are, as the test does to stay short). Writes evals/results/scaling-<date>.json and
the README's scaling table (between the scaling-table markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from scale_harness import measure  # noqa: E402
from test_batch import write_notes  # noqa: E402

README = REPO / "README.md"
MARKERS = ("<!-- scaling-table -->", "<!-- /scaling-table -->")


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else ""
    return f"{os.cpu_count()} cores{f' ({model})' if model else ''}, {platform.system()} {platform.machine()}"


def table(result: dict) -> str:
    base = result["runs"][0]["notes_per_s"]
    lines = [
        "| workers | seconds | notes/s | speed-up | ratio to linear scaling | duplicates | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        speedup = run["notes_per_s"] / base
        lines.append(
            f"| {run['workers']} | {run['seconds']:.1f} | {run['notes_per_s']:.2f} | {speedup:.2f}× "
            f"| {speedup / run['workers']:.2f} | {run['duplicates']} | {run['failed']} |"
        )
    lines.append("")
    lines.append(
        f"{result['notes']} notes ({result['window']} timed), {result['calls_per_note']} model calls a note, "
        f"fake endpoint delay {result['delay_s']} s a call (ideal: {result['ideal_s_per_note']} s a note); "
        f"{result['machine']}; {result['date']}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.15, help="seconds the fake endpoint takes per answer")
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--window", type=int, default=None, help="time the first N notes finished (default: all)")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    url = os.environ.get("REVIEWER_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("set REVIEWER_TEST_POSTGRES_URL (scripts/start_postgres.sh prints one)")
    notes_dir = Path(tempfile.mkdtemp()) / "notes"
    write_notes(notes_dir, args.notes)
    runs = []
    for workers in (int(n) for n in args.workers.split(",")):
        runs.append(measure(url, workers, notes_dir, args.delay, window=args.window))
        print(json.dumps(runs[-1]), flush=True)
    result = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "delay_s": args.delay,
        "notes": args.notes,
        "window": args.window or args.notes,
        "calls_per_note": round(runs[0]["model_calls"] / runs[0]["reviews_started"], 1),
        "runs": runs,
    }
    result["ideal_s_per_note"] = round(result["calls_per_note"] * args.delay, 2)
    out = REPO / "evals" / "results" / f"scaling-{result['date']}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(MARKERS[0]) + len(MARKERS[0]), readme.index(MARKERS[1])
    README.write_text(readme[:start] + "\n" + table(result) + "\n" + readme[end:], encoding="utf-8")
    print(f"wrote {out.relative_to(REPO)} and the README's scaling table")


if __name__ == "__main__":
    main()
