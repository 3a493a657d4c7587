"""Run the reviewer on a labelled corpus (evals/corpora/FORMAT.md) and score it against the gold labels.

Reviews go through the batch machinery and its result store, so each note's raw model output is
cached: a rerun calls the model only for notes not yet stored, and `rescore_corpus` rebuilds every
report from the cached output after a rule change without calling the model at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from reviewer import clock
from reviewer.backends import ModelBackend
from reviewer.batch import (
    NoteFile,
    batch_reports,
    failed_report,
    model_info,
    plan_notes,
    run_batch,
)
from reviewer.codes import is_timed, normalize_code
from reviewer.evals import metrics
from reviewer.findings import FLAGS
from reviewer.report import ModelInfo, NoteReport
from reviewer.review import rescore
from reviewer.rules import REGISTRY, RULES_VERSION
from reviewer.settings import Settings
from reviewer.store import ResultStore

RESULTS_DIR = Path("evals") / "results"  # under the working directory: the repository's when run from it
CORPORA_DIR = Path(__file__).resolve().parent / "corpora"  # dev, val and styles, shipped with the package
FIELDS = ("timed_minutes", "total_timed_minutes", "total_treatment_minutes", "billed_units", "correct_units")
NO_CACHED_OUTPUT = (
    "no cached model output for this note, model and prompt version; run `reviewer eval` without --rescore"
)


class EvalError(Exception):
    """The corpus cannot be evaluated; the message is one line a user can act on."""


@dataclass(frozen=True)
class LabelledNote:
    note: NoteFile
    gold: dict
    blocks: list[metrics.SpanBlock] | None = None  # block-level gold (blocks.jsonl), where the corpus has it


class DocumentScores(BaseModel):
    """The document-type judgement against `gold.document` (treatment_note, unbilled_note, other)."""

    labelled: int
    correct: int
    wrong: list[str]  # "doc-0003: other read as unbilled_note"


class EvalResult(BaseModel):
    corpus: str
    date: str
    model: ModelInfo
    rules_version: str
    notes: int
    failed: int
    flags: list[metrics.FlagScore]
    micro_f1: float | None
    macro_f1: float | None
    note_accuracy: float | None
    fields: list[metrics.FieldAccuracy]
    goals_found: int
    goals_total: int
    goal_recall: float | None
    evidence_spans: int
    evidence_verified_share: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    prompt_tokens_per_note: float | None
    completion_tokens_per_note: float | None
    misses: list[metrics.NoteMiss]
    clean_notes: int = 0  # notes whose gold has no flag
    clean_flagged: int = 0  # of those, notes that got a flag
    needs_human: int = 0  # notes with an uncertain value (sent to a human reading)
    blocks: metrics.BlockScores | None = None  # component metrics, for corpora with blocks.jsonl
    rule_firing: list[metrics.RuleFiring] = []  # how often each rule fires, on all and on clean notes
    documents: DocumentScores | None = None  # the kind of document, for corpora whose gold names it


def corpus_folder(corpus: str | Path, settings: Settings) -> Path:
    """A corpus folder given as a path, or by name (`dev`) in `settings.corpora_dir` (default: the
    corpora shipped with the package)."""
    path = Path(corpus)
    if path.is_dir():
        return path
    named = Path(settings.corpora_dir or CORPORA_DIR) / str(corpus)
    if path.parent == Path(".") and named.is_dir():
        return named
    raise EvalError(
        f"{corpus}: no such corpus folder (give a path, or a name in {settings.corpora_dir or CORPORA_DIR})"
    )


def load_corpus(corpus: Path) -> list[LabelledNote]:
    """The labelled notes of a corpus folder: `labels.jsonl` plus `notes/<id>.txt`."""
    labels_path = Path(corpus) / "labels.jsonl"
    if not labels_path.is_file():
        raise EvalError(f"{corpus}: no labels.jsonl (a corpus is notes/ plus labels.jsonl, see FORMAT.md)")
    notes = []
    blocks = load_block_gold(corpus)
    for number, line in enumerate(labels_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            label = json.loads(line)
            _check_label(label)
            note = NoteFile(
                note_id=label["id"],
                path=Path(corpus) / "notes" / f"{label['id']}.txt",
                payer=label.get("payer"),
                state=label.get("state"),
            )
            notes.append(LabelledNote(note=note, gold=label["gold"], blocks=blocks.get(label["id"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise EvalError(f"{labels_path}:{number}: not a valid label line ({type(exc).__name__}: {exc})") from None
    if not notes:
        raise EvalError(f"{labels_path}: no labels")
    return notes


def _check_label(label: object) -> None:
    """A label line is an object whose `id` names a file of notes/ and whose `gold` is an object
    (FORMAT.md); raises TypeError or ValueError naming what is wrong."""
    if not isinstance(label, dict):
        raise TypeError("a label line is a JSON object")
    note_id = label.get("id")
    if not isinstance(note_id, str) or not note_id or Path(note_id).name != note_id or note_id in (".", ".."):
        raise ValueError(f"id {note_id!r} is not a note file name")
    if not isinstance(label.get("gold"), dict):
        raise ValueError("gold is not an object")
    for key in ("payer", "state"):
        if label.get(key) is not None and not isinstance(label[key], str):
            raise ValueError(f"{key} is not a string")


def load_block_gold(corpus: Path) -> dict[str, list[metrics.SpanBlock]]:
    """`blocks.jsonl` beside the labels: per note, its treatment blocks (see FORMAT.md); {} when absent."""
    path = Path(corpus) / "blocks.jsonl"
    if not path.is_file():
        return {}
    gold = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            gold[entry["id"]] = [
                metrics.SpanBlock(
                    first=b["lines"][0],
                    last=b["lines"][1],
                    code=b.get("code"),
                    minutes=b.get("minutes"),
                    kind=b.get("kind"),
                )
                for b in entry["blocks"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError, ValueError) as exc:
            raise EvalError(f"{path}:{number}: not a valid block line ({type(exc).__name__}: {exc})") from None
    return gold


def predicted_blocks(report: NoteReport) -> list[metrics.SpanBlock]:
    """The treatment blocks of a report (counted ones and services written as not billed; not the
    restatements) as physical lines of its note."""
    if report.extraction is None or report.note_text is None:
        return []
    text = report.note_text
    spans = []
    for block in report.extraction.blocks:
        evidence = block.evidence
        if (
            not (block.counted or block.billed_as_not_billed)
            or evidence is None
            or evidence.start is None
            or evidence.end is None
        ):
            continue
        first = text.count("\n", 0, evidence.start) + 1
        last = text.count("\n", 0, max(evidence.start, evidence.end - 1)) + 1
        spans.append(metrics.SpanBlock(first=first, last=last, code=block.code, minutes=block.minutes, kind=block.kind))
    return spans


def review_corpus(
    corpus: list[LabelledNote], *, store: ResultStore, backend: ModelBackend, settings: Settings, workers: int = 1
) -> list[NoteReport]:
    """One report per labelled note, reviewing (and caching) only the notes not yet stored."""
    notes = [labelled.note for labelled in corpus]
    result = run_batch(notes, store=store, backend=backend, settings=settings, workers=workers)
    return batch_reports(store, result.planned)


def rescore_corpus(
    corpus: list[LabelledNote], *, store: ResultStore, backend: ModelBackend, settings: Settings
) -> list[NoteReport]:
    """One report per labelled note, rebuilt from cached model outputs under the current rules."""
    info = model_info(backend, settings)
    reports = []
    for item in plan_notes([labelled.note for labelled in corpus], info, settings):
        cached = None
        if item.text is not None:
            cached = store.latest_model_output(
                item.content_hash, backend=info.backend, model=info.model, prompt_version=info.prompt_version
            )
        if cached is None:
            reports.append(failed_report(item, item.read_error or NO_CACHED_OUTPUT, info))
            continue
        report = rescore(cached, payer=item.payer, state=item.state).model_copy(update={"note_id": item.note.note_id})
        store.put(report, source_path=str(item.note.path), key=item.key)
        reports.append(report)
    if all(r.error == NO_CACHED_OUTPUT for r in reports):
        raise EvalError(
            f"nothing to re-score: no cached outputs of {info.backend}/{info.model} (prompt {info.prompt_version})"
        )
    return reports


def predicted_fields(report: NoteReport) -> dict[str, object] | None:
    """The report's values of the gold fields (FORMAT.md); None for a failed note.

    Each falls back the way gold defines it: total timed minutes is the stated total, else the sum
    of the per-code minutes; total treatment time is the stated total, else time in to time out.
    Per-code minutes and correct units cover timed codes only, as in gold.
    """
    extraction = report.extraction
    if report.status != "ok" or extraction is None:
        return None
    timed_minutes = {  # the minutes the rules judged each timed code on (the unit table)
        normalize_code(row.code): row.minutes for row in report.units if is_timed(row.code) and row.minutes is not None
    }
    stated_timed, stated_treatment = extraction.total_timed_minutes, extraction.total_treatment_minutes
    time_in, time_out = extraction.time_in, extraction.time_out
    span = clock.interval(time_in.value if time_in else None, time_out.value if time_out else None)
    summed_timed = sum(timed_minutes.values()) if timed_minutes else None
    in_to_out = span[1] - span[0] if span else None
    return {
        "timed_minutes": timed_minutes,
        "total_timed_minutes": stated_timed.value if stated_timed else summed_timed,
        "total_treatment_minutes": stated_treatment.value if stated_treatment else in_to_out,
        "billed_units": extraction.billed_units(),
        "correct_units": {
            row.code: row.supported
            for row in report.units
            if is_timed(row.code) and row.billed and row.supported is not None
        },
    }


def score_run(
    corpus: list[LabelledNote], reports: list[NoteReport], *, corpus_name: str, model: ModelInfo
) -> EvalResult:
    """Every metric of the run; notes without a report count as failed."""
    by_id = {report.note_id: report for report in reports}
    ids = [labelled.note.note_id for labelled in corpus]
    gold_flags = {labelled.note.note_id: set(labelled.gold.get("flags", [])) for labelled in corpus}
    ok = {note_id: by_id[note_id] for note_id in ids if note_id in by_id and by_id[note_id].status == "ok"}
    predicted_flags = {note_id: set(report.flags) for note_id, report in ok.items()}
    errors = {
        note_id: (by_id[note_id].error if note_id in by_id else "no report") for note_id in ids if note_id not in ok
    }
    flag_scores = metrics.flag_scores(gold_flags, predicted_flags, FLAGS)
    found, total, recall = metrics.goal_recall(
        {labelled.note.note_id: labelled.gold.get("goals", []) for labelled in corpus},
        {
            note_id: [goal.text for goal in report.extraction.goals]
            for note_id, report in ok.items()
            if report.extraction
        },
    )
    spans = [span for report in ok.values() if report.extraction for span in report.extraction.all_evidence()]
    present = [by_id[note_id] for note_id in ids if note_id in by_id]
    latencies = [r.timing.total_s for r in present if r.timing.total_s > 0]
    return EvalResult(
        corpus=corpus_name,
        date=date.today().isoformat(),
        model=model,
        rules_version=RULES_VERSION,
        notes=len(ids),
        failed=len(errors),
        flags=flag_scores,
        micro_f1=metrics.micro_f1(flag_scores),
        macro_f1=metrics.macro_f1(flag_scores),
        note_accuracy=metrics.note_accuracy(gold_flags, predicted_flags),
        fields=metrics.field_accuracy(
            {labelled.note.note_id: labelled.gold for labelled in corpus},
            {note_id: predicted_fields(report) for note_id, report in ok.items()},
            FIELDS,
        ),
        goals_found=found,
        goals_total=total,
        goal_recall=recall,
        evidence_spans=len(spans),
        evidence_verified_share=metrics.share(span.verified for span in spans),
        latency_p50_s=metrics.percentile(latencies, 50),
        latency_p95_s=metrics.percentile(latencies, 95),
        prompt_tokens_per_note=metrics.mean(r.timing.prompt_tokens for r in present),
        completion_tokens_per_note=metrics.mean(r.timing.completion_tokens for r in present),
        misses=metrics.note_misses(gold_flags, predicted_flags, errors),
        clean_notes=sum(1 for note_id in ids if not gold_flags[note_id]),
        clean_flagged=sum(
            1 for note_id in ids if not gold_flags[note_id] and note_id in ok and predicted_flags[note_id]
        ),
        needs_human=sum(1 for report in ok.values() if report.needs_human),
        blocks=_block_scores(corpus, ok),
        rule_firing=metrics.rule_firing(
            {note_id: {f.rule for f in report.findings} for note_id, report in ok.items()},
            {note_id for note_id in ok if not gold_flags[note_id]},
            [(rule.code, rule.severity) for rule in REGISTRY.values()],
        ),
        documents=_document_scores(corpus, ok),
    )


def _document_type(report: NoteReport | None) -> str:
    extraction = report.extraction if report is not None else None
    return extraction.document_type if extraction is not None else "failed"


def _document_scores(corpus: list[LabelledNote], ok: dict[str, NoteReport]) -> DocumentScores | None:
    gold = {n.note.note_id: n.gold["document"] for n in corpus if "document" in n.gold}
    if not gold:
        return None
    read = {note_id: _document_type(ok.get(note_id)) for note_id in gold}
    wrong = [f"{note_id}: {kind} read as {read[note_id]}" for note_id, kind in gold.items() if read[note_id] != kind]
    return DocumentScores(labelled=len(gold), correct=len(gold) - len(wrong), wrong=wrong)


def _block_scores(corpus: list[LabelledNote], ok: dict[str, NoteReport]) -> metrics.BlockScores | None:
    gold = {labelled.note.note_id: labelled.blocks for labelled in corpus if labelled.blocks is not None}
    if not gold:
        return None
    return metrics.block_scores(gold, {note_id: predicted_blocks(ok[note_id]) for note_id in gold if note_id in ok})


def results_name(result: EvalResult) -> str:
    """`<date>_<corpus>_<backend>_<model>_<prompt version>`, safe as a file name."""
    parts = [result.date, result.corpus, result.model.backend, result.model.model, result.model.prompt_version]
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part) for part in parts)


def write_results(result: EvalResult, out: Path | None = None) -> tuple[Path, Path]:
    """Write the JSON (at `out`, default under evals/results/) and the Markdown beside it."""
    json_path = Path(out) if out else RESULTS_DIR / f"{results_name(result)}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    markdown_path = json_path.with_suffix(".md")
    markdown_path.write_text(to_markdown(result), encoding="utf-8")
    return json_path, markdown_path


def to_markdown(result: EvalResult) -> str:
    m = result.model
    lines = [
        f"# Eval: {result.corpus} — {m.backend} / {m.model} / prompt {m.prompt_version} / rules {result.rules_version}",
        "",
        f"{result.date}; {result.notes} notes, {result.failed} failed.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| micro F1 | {_num(result.micro_f1)} |",
        f"| macro F1 | {_num(result.macro_f1)} |",
        f"| note accuracy (flag set exactly right) | {_num(result.note_accuracy)} |",
        f"| goal recall | {_num(result.goal_recall)} ({result.goals_found}/{result.goals_total}) |",
        f"| clean notes with any flag | {result.clean_flagged}/{result.clean_notes} |",
        f"| notes needing a human reading (an uncertain value) | {result.needs_human}/{result.notes - result.failed} |",
        f"| evidence spans verified | {_num(result.evidence_verified_share)} ({result.evidence_spans} spans) |",
        f"| latency p50 / p95 (s) | {_num(result.latency_p50_s, 1)} / {_num(result.latency_p95_s, 1)} |",
        f"| tokens per note (prompt / completion) | {_num(result.prompt_tokens_per_note, 0)} / {_num(result.completion_tokens_per_note, 0)} |",
        "",
        "| flag | gold | TP | FP | FN | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {s.flag} | {s.tp + s.fn} | {s.tp} | {s.fp} | {s.fn} | {_num(s.precision)} | {_num(s.recall)} | {_num(s.f1)} |"
        for s in result.flags
    ]
    lines += ["", "| field | correct | accuracy |", "|---|---|---|"]
    lines += [f"| {f.field} | {f.correct}/{f.total} | {_num(f.accuracy)} |" for f in result.fields]
    if result.blocks:
        b = result.blocks
        lines += [
            "",
            f"Treatment blocks against the block-level gold ({b.notes} notes, {b.gold_blocks} gold blocks, "
            f"{b.predicted_blocks} read):",
            "",
            "| component | correct | score |",
            "|---|---|---|",
            f"| segmentation precision / recall / F1 | {b.matched} found | {_num(b.precision)} / {_num(b.recall)} / {_num(b.f1)} |",
            f"| minutes per found block | {b.minutes_correct}/{b.minutes_total} | {_num(b.minutes_accuracy)} |",
            f"| code per found block | {b.code_correct}/{b.code_total} | {_num(b.code_accuracy)} |",
            f"| kind per found block | {b.kind_correct}/{b.kind_total} | {_num(b.kind_accuracy)} |",
        ]
    if result.documents:
        d = result.documents
        lines += ["", f"Document type (gold `document`): {d.correct}/{d.labelled} right."]
        lines += [f"- {w}" for w in d.wrong]
    if result.rule_firing:
        clean = result.clean_notes
        lines += [
            "",
            f"How often each rule fires ({result.notes - result.failed} notes reviewed, {clean} clean):",
            "",
            "| rule | severity | notes | clean notes |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.rule} | {r.severity} | {r.notes} | {r.clean_notes}/{clean} |" for r in result.rule_firing]
    if result.misses:
        lines += ["", "| note | status | missed | raised wrongly | error |", "|---|---|---|---|---|"]
        lines += [
            f"| {x.note_id} | {x.status} | {', '.join(x.missed)} | {', '.join(x.wrong)} | {_cell(x.error)} |"
            for x in result.misses
        ]
    return "\n".join(lines) + "\n"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
