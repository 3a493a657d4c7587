"""Batch outputs: JSONL (one report per note), CSV (one row per note), and a self-contained HTML summary.

The HTML has no scripts and no links out: charts are inline SVG, so the file opens offline and
can be mailed as it is. Reports are written without the note text (the notes are in the folder).
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from html import escape
from pathlib import Path

from reviewer.episode_outputs import cloned_note_rates, cloned_rate_text, episodes_html
from reviewer.episodes import EpisodeSet
from reviewer.findings import FLAGS
from reviewer.providers import BatchPatterns, ProviderPattern, provider_patterns
from reviewer.report import NoteReport, report_provider

CSV_COLUMNS = (
    "note_id", "status", "score", "risk_band", "flags", "units_billed", "units_supported",
    "units_at_risk", "provider", "edit_tables", "error",
)  # fmt: skip
SCORE_BIN_WIDTH = 10


def write_batch_outputs(
    reports: list[NoteReport], out_dir: Path, episodes: EpisodeSet | None = None
) -> dict[str, Path]:
    """Write results.jsonl, results.csv and summary.html into `out_dir`; their paths by kind.
    With `episodes`, the summary gains the episode view and the providers' cloned-note rate."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"jsonl": out_dir / "results.jsonl", "csv": out_dir / "results.csv", "html": out_dir / "summary.html"}
    _write_atomically(paths["jsonl"], to_jsonl(reports))
    _write_atomically(paths["csv"], to_csv(reports))
    _write_atomically(paths["html"], to_html_summary(reports, episodes=episodes))
    return paths


def to_jsonl(reports: list[NoteReport]) -> str:
    return "".join(r.model_dump_json(exclude={"note_text"}) + "\n" for r in reports)


def to_csv(reports: list[NoteReport]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for report in reports:
        writer.writerow(csv_row(report))
    return buffer.getvalue()


def csv_row(report: NoteReport) -> dict[str, object]:
    """One note's CSV row; unit totals are over every code of its unit table."""
    billed, supported = units_billed(report), units_supported(report)
    return {
        "note_id": report.note_id,
        "status": report.status,
        "score": "" if report.score is None else report.score,
        "risk_band": report.risk_band or "",
        "flags": ";".join(report.flags),
        "units_billed": "" if billed is None else billed,
        "units_supported": "" if supported is None else supported,
        "units_at_risk": sum(row.at_risk for row in report.units),
        "provider": report_provider(report) or "",
        "edit_tables": edit_tables_cell(report),
        "error": report.error or "",
    }


def edit_tables_cell(report: NoteReport) -> str:
    """The edit-table versions a note was reviewed with: "ncci_ptp:v321r0;mue:2025Q4" ("none": not imported)."""
    return ";".join(f"{use.table}:{use.version or 'none'}" for use in report.edit_tables)


def units_billed(report: NoteReport) -> int | None:
    return sum(row.billed or 0 for row in report.units) if report.status == "ok" else None


def units_supported(report: NoteReport) -> int | None:
    """Total supported units, or None when any code's support is unknown (its minutes are missing)."""
    if report.status != "ok" or any(row.supported is None for row in report.units):
        return None
    return sum(row.supported or 0 for row in report.units)


def to_html_summary(
    reports: list[NoteReport], title: str = "Batch review summary", episodes: EpisodeSet | None = None
) -> str:
    ok = [r for r in reports if r.status == "ok"]
    failed = [r for r in reports if r.status != "ok"]
    flag_counts = Counter(flag for r in ok for flag in r.flags)
    flag_bars = [
        (flag, flag_counts[flag]) for flag in sorted(FLAGS, key=lambda f: -flag_counts[f]) if flag_counts[flag]
    ]
    patterns = provider_patterns(reports)
    sections = [
        f"<h1>{escape(title)}</h1>",
        _overview(reports, ok, failed),
        "<h2>Flag frequency</h2>",
        _horizontal_bars(flag_bars) if flag_bars else "<p>No flags raised.</p>",
        "<h2>Edit tables applied</h2>",
        _edit_tables_list(ok),
        "<h2>Score distribution</h2>",
        _score_histogram([r.score for r in ok if r.score is not None]),
        "<h2>Providers</h2>",
        _provider_table(patterns, cloned_note_rates(episodes, patterns.overall.provider) if episodes else None),
        "<h2>Notes</h2>",
        _notes_table(reports),
    ]
    if episodes is not None:
        sections[-2:-2] = ["<h2>Episodes</h2>", episodes_html(episodes)]
    if failed:
        rows = "".join(f"<tr><td>{escape(r.note_id)}</td><td>{escape(r.error or '')}</td></tr>" for r in failed)
        sections += ["<h2>Failed notes</h2>", f"<table><tr><th>note</th><th>reason</th></tr>{rows}</table>"]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _overview(reports: list[NoteReport], ok: list[NoteReport], failed: list[NoteReport]) -> str:
    at_risk = sum(row.at_risk for r in ok for row in r.units)
    billed = sum(units_billed(r) or 0 for r in ok)
    clean = sum(1 for r in ok if not r.flags)
    cells = [("notes", len(reports)), ("reviewed", len(ok)), ("failed", len(failed)), ("clean", clean),
             ("units billed", billed), ("units at risk", at_risk)]  # fmt: skip
    return (
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{value}</b><span>{escape(label)}</span></div>" for label, value in cells)
        + "</div>"
    )


def _edit_tables_list(ok: list[NoteReport]) -> str:
    """How many notes were reviewed under each edit-table version (or with none imported)."""
    counts = Counter(use.summary for r in ok for use in r.edit_tables)
    if not counts:
        return "<p>Not recorded for these reports.</p>"
    items = "".join(f"<li>{escape(summary)}: {count} note(s)</li>" for summary, count in sorted(counts.items()))
    return f"<ul>{items}</ul>"


def _horizontal_bars(items: list[tuple[str, int]], label_width: int = 240, bar_width: int = 420) -> str:
    row = 22
    top = max(value for _, value in items)
    height = row * len(items) + 4
    parts = [f"<svg role='img' width='{label_width + bar_width + 50}' height='{height}' class='chart'>"]
    for index, (label, value) in enumerate(items):
        y = index * row + 2
        length = max(1, round(bar_width * value / top))
        parts.append(
            f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end'>{escape(label)}</text>"
            f"<rect x='{label_width}' y='{y + 3}' width='{length}' height='{row - 6}'><title>{escape(label)}: {value}</title></rect>"
            f"<text x='{label_width + length + 4}' y='{y + 15}'>{value}</text>"
        )
    return "".join(parts) + "</svg>"


def _score_histogram(scores: list[int], width: int = 560, height: int = 180) -> str:
    if not scores:
        return "<p>No scores.</p>"
    bins = Counter(min(score // SCORE_BIN_WIDTH, 100 // SCORE_BIN_WIDTH - 1) for score in scores)
    count = 100 // SCORE_BIN_WIDTH
    top = max(bins.values())
    slot = width // count
    parts = [f"<svg role='img' width='{width}' height='{height + 40}' class='chart'>"]
    for index in range(count):
        value = bins.get(index, 0)
        bar = round(height * value / top)
        x = index * slot
        low = index * SCORE_BIN_WIDTH
        label = f"{low}-{low + SCORE_BIN_WIDTH - (0 if index == count - 1 else 1)}"
        parts.append(
            f"<rect x='{x + 4}' y='{height - bar + 16}' width='{slot - 8}' height='{bar}'><title>{label}: {value}</title></rect>"
            f"<text x='{x + slot // 2}' y='{height - bar + 12}' text-anchor='middle'>{value or ''}</text>"
            f"<text x='{x + slot // 2}' y='{height + 32}' text-anchor='middle'>{label}</text>"
        )
    return "".join(parts) + "</svg>"


def _provider_table(patterns: BatchPatterns, cloned: dict[str, tuple[int, int]] | None = None) -> str:
    if not patterns.providers:
        return "<p>No reviewed notes.</p>"
    header = (
        "<tr><th>provider</th><th>notes</th><th>59/X share</th><th>min per timed unit</th>"
        "<th>97530 share of 97530+97110</th><th>mean score</th><th>units at risk</th>"
        + ("<th>cloned notes</th>" if cloned is not None else "")
        + "<th>audit triggers</th></tr>"
    )
    rows = [_provider_row(patterns.overall, "batch", cloned)] + [
        _provider_row(p, cloned=cloned) for p in patterns.providers
    ]
    return f"<table>{header}{''.join(rows)}</table>"


def _provider_row(
    pattern: ProviderPattern, css_class: str = "", cloned: dict[str, tuple[int, int]] | None = None
) -> str:
    triggers = "; ".join(pattern.triggers)
    cells = [
        escape(pattern.provider),
        str(pattern.notes),
        _percent(pattern.modifier_59_share),
        "–" if pattern.minutes_per_unit is None else f"{pattern.minutes_per_unit:.1f}",
        _percent(pattern.share_97530),
        "–" if pattern.mean_score is None else f"{pattern.mean_score:.0f}",
        str(pattern.units_at_risk),
        *([cloned_rate_text(cloned.get(pattern.provider))] if cloned is not None else []),
        f"<span class='trigger'>{escape(triggers)}</span>" if triggers else "",
    ]
    row_open = f"<tr class='{css_class}'>" if css_class else "<tr>"
    return row_open + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _notes_table(reports: list[NoteReport]) -> str:
    header = "<tr>" + "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in CSV_COLUMNS[:-1]) + "</tr>"
    rows = []
    for report in reports:
        row = csv_row(report)
        rows.append("<tr>" + "".join(f"<td>{escape(str(row[c]))}</td>" for c in CSV_COLUMNS[:-1]) + "</tr>")
    return f"<table>{header}{''.join(rows)}</table>"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file, so a killed run never leaves half an output behind; a failed
    write (a full disk) removes its partial temporary file and keeps the previous output."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
tr.batch{background:#f3f6fa;font-weight:600}.trigger{color:#b00020}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}
.card b{display:block;font-size:1.6rem}.card span{color:#666;font-size:.85rem}
svg.chart text{font-size:12px;fill:#222}svg.chart rect{fill:#3b6ea5}
"""
