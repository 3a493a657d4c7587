"""Keep the README's accuracy table (from the committed results) and its rule list (from the
registry) current: `python -m reviewer.evals.readme`, from the repository root.

The README holds them between `<!-- eval-table -->` and `<!-- rules-table -->` markers; a test
checks both match.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reviewer.evals.harness import RESULTS_DIR
from reviewer.prompts import load_prompt
from reviewer.rules import REGISTRY
from reviewer.settings import Settings

README = Path("README.md")
START, END = "<!-- eval-table -->", "<!-- /eval-table -->"
RULES_START, RULES_END = "<!-- rules-table -->", "<!-- /rules-table -->"


# The baseline: the previous design scored on the styles corpus before it changed (issue 8).
BASELINE_PROMPT = "extract-v7"
BASELINE_CORPORA = ("styles",)


def latest_results(prompt_version: str, results_dir: Path = RESULTS_DIR) -> list[dict]:
    """The newest embedded-model result per corpus for this prompt version (dev, val, styles), then
    the baseline of the previous design."""
    order = {"dev": 0, "val": 1, "styles": 2}
    columns = []
    for version, only in ((prompt_version, None), (BASELINE_PROMPT, BASELINE_CORPORA)):
        newest: dict[str, dict] = {}
        for path in sorted(results_dir.glob(f"*_embedded_*_{version}.json")):
            result = json.loads(path.read_text(encoding="utf-8"))
            if only is None or result["corpus"] in only:
                newest[result["corpus"]] = result
        if version == prompt_version or newest:
            columns += [newest[c] for c in sorted(newest, key=lambda c: (order.get(c, 9), c))]
    return columns


def _column(result: dict) -> str:
    before = " *before*" if result["model"]["prompt_version"] == BASELINE_PROMPT else ""
    return f"{result['corpus']}{before} ({result['date']}, {result['model']['prompt_version']})"


def table(results: list[dict]) -> str:
    def num(value, digits=2):
        return "–" if value is None else f"{value:.{digits}f}"

    def field(result, name):
        found = next((f for f in result["fields"] if f["field"] == name), None)
        return "–" if found is None else f"{num(found['accuracy'])} ({found['correct']}/{found['total']})"

    def blocks(result, part):
        b = result.get("blocks")
        if not b:
            return "–"
        if part == "segmentation":
            return f"{num(b['precision'])} / {num(b['recall'])} ({b['matched']}/{b['gold_blocks']})"
        return f"{num(b[part + '_accuracy'])} ({b[part + '_correct']}/{b[part + '_total']})"

    rows = [
        ("notes (failed)", lambda r: f"{r['notes']} ({r['failed']})"),
        ("flags micro F1", lambda r: num(r["micro_f1"])),
        ("flags macro F1", lambda r: num(r["macro_f1"])),
        ("notes with exactly the right flags", lambda r: num(r["note_accuracy"])),
        ("minutes per code", lambda r: field(r, "timed_minutes")),
        ("total timed minutes", lambda r: field(r, "total_timed_minutes")),
        ("total treatment minutes", lambda r: field(r, "total_treatment_minutes")),
        ("billed units", lambda r: field(r, "billed_units")),
        ("correct units", lambda r: field(r, "correct_units")),
        ("goal recall", lambda r: f"{num(r['goal_recall'])} ({r['goals_found']}/{r['goals_total']})"),
        (
            "clean notes with any flag",
            lambda r: f"{r.get('clean_flagged', '–')}/{r.get('clean_notes', '–')}" if "clean_notes" in r else "–",
        ),
        (
            "notes needing a human reading",
            lambda r: f"{r['needs_human']}/{r['notes'] - r['failed']}" if "needs_human" in r else "–",
        ),
        ("treatment blocks found: precision / recall (block gold)", lambda r: blocks(r, "segmentation")),
        ("minutes per found block", lambda r: blocks(r, "minutes")),
        ("code per found block", lambda r: blocks(r, "code")),
        ("kind per found block", lambda r: blocks(r, "kind")),
        ("evidence spans verified", lambda r: num(r["evidence_verified_share"])),
        ("seconds per note p50 / p95", lambda r: f"{num(r['latency_p50_s'], 1)} / {num(r['latency_p95_s'], 1)}"),
        (
            "tokens per note (prompt / output)",
            lambda r: f"{num(r['prompt_tokens_per_note'], 0)} / {num(r['completion_tokens_per_note'], 0)}",
        ),
    ]
    head = "| metric | " + " | ".join(_column(r) for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(value(r) for r in results) + " |" for name, value in rows]
    model = results[0]["model"]
    lines.append("")
    lines.append(
        f"Model {model['model']}, prompt {model['prompt_version']}; columns marked *before* are the previous design "
        "(one structured answer, prompt extract-v7) on the same notes. Per-flag tables in `evals/results/`."
    )
    return "\n".join(lines)


def rules_table() -> str:
    """Every registered rule, from the registry itself: code, what it checks, severity, flag, source."""
    lines = ["| rule | checks | severity | flag | source |", "|---|---|---|---|---|"]
    for rule in REGISTRY.values():
        summary = (rule.check.__doc__ or "").strip().split("\n\n", 1)[0].replace("\n", " ")
        summary = " ".join(summary.split()).replace("|", "\\|")
        lines.append(f"| {rule.code} | {summary} | {rule.severity} | {rule.flag or '–'} | {rule.citation} |")
    return "\n".join(lines)


def render(readme: str, results: list[dict]) -> str:
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    text = f"{before}{START}\n{table(results)}\n{END}{after}"
    if RULES_START in text:
        before, rest = text.split(RULES_START, 1)
        _, after = rest.split(RULES_END, 1)
        text = f"{before}{RULES_START}\n{rules_table()}\n{RULES_END}{after}"
    return text


def main() -> int:
    version = load_prompt(Settings().prompts_dir, "extract").version
    results = latest_results(version)
    if not results:
        print(f"no embedded-model results for prompt {version} in {RESULTS_DIR}", file=sys.stderr)
        return 1
    README.write_text(render(README.read_text(encoding="utf-8"), results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
